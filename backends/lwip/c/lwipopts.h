/* lwIP's configuration for portnet-lwip: raw API only, no OS, static pools.
 *
 * Every size here is also a limit the Rust side reports (`Stack::pools`), and
 * the TCP and UDP slot tables of src/state.rs are no larger than the pools, so
 * that an exhausted pool is seen by Rust first and reported as OutOfResources.
 */
#ifndef PORTNET_LWIPOPTS_H
#define PORTNET_LWIPOPTS_H

/* No threads: the one runner future calls into lwIP, and lwIP's callbacks run
 * inside those calls. */
#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_NETCONN                0
#define LWIP_SOCKET                 0
#define LWIP_CALLBACK_API           1
#define LWIP_TIMERS                 1

/* Memory: lwIP's own heap and pools, in .bss; nothing from malloc. */
#define MEM_LIBC_MALLOC             0
#define MEMP_MEM_MALLOC             0
#define MEM_ALIGNMENT               4
#define MEM_SIZE                    (48 * 1024)
#define MEMP_NUM_PBUF               32
#define PBUF_POOL_SIZE              48
#define PBUF_POOL_BUFSIZE           1536
#define MEMP_NUM_TCP_PCB            16
#define MEMP_NUM_TCP_PCB_LISTEN     4
#define MEMP_NUM_TCP_SEG            64
#define MEMP_NUM_UDP_PCB            4
#define MEMP_NUM_SYS_TIMEOUT        (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 2)
#define MEMP_NUM_ARP_QUEUE          16

/* IPv4 over Ethernet (ARP); IPv6, DHCP, DNS, IGMP are not wired up yet. */
#define LWIP_ETHERNET               1
#define LWIP_ARP                    1
#define ARP_QUEUEING                1
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_DHCP                   0
#define LWIP_AUTOIP                 0
#define LWIP_ACD                    0
#define LWIP_IGMP                   0
#define LWIP_DNS                    0
#define IP_FORWARD                  0
#define IP_REASSEMBLY               0
#define IP_FRAG                     0
#define LWIP_SINGLE_NETIF           1
#define LWIP_NETIF_LOOPBACK         0
#define LWIP_HAVE_LOOPIF            0

#define LWIP_UDP                    1
#define LWIP_TCP                    1
#define TCP_MSS                     1460
#define TCP_WND                     (8 * TCP_MSS)
#define TCP_SND_BUF                 (8 * TCP_MSS)
#define TCP_SND_QUEUELEN            (4 * TCP_SND_BUF / TCP_MSS)
/* The listen backlog is kept by the Rust side (its accept queues). */
#define TCP_LISTEN_BACKLOG          0
#define LWIP_TCP_KEEPALIVE          1
/* A listener's port is free again while its old connections sit in TIME_WAIT
 * (the contract of dropping a listener); lwIP still refuses a second
 * listener on a port. */
#define SO_REUSE                    1

#define LWIP_STATS                  0
#define LWIP_NETIF_STATUS_CALLBACK  0
#define LWIP_NETIF_LINK_CALLBACK    0

/* Randomness (initial sequence numbers, ephemeral ports): seeded per stack. */
unsigned int portnet_lwip_rand(void);
#define LWIP_RAND()                 portnet_lwip_rand()

#endif
