/* The C side of portnet-lwip's FFI: what Rust cannot reach without lwIP's
 * struct layouts (fields, macros), the netif, sys_now and the random source.
 * Everything else Rust calls directly (tcp_write, pbuf_free, ...). Addresses
 * cross the boundary as IPv4 u32 in network byte order. */
#include "lwip/init.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/pbuf.h"
#include "lwip/netif.h"
#include "lwip/etharp.h"
#include "lwip/ip.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "netif/ethernet.h"
#include <string.h>

#ifndef __arm__
#include <stdio.h>
#include <stdlib.h>
#endif

void portnet_lwip_assert(const char *message, int line, const char *file)
{
#ifdef __arm__
  (void)message; (void)line; (void)file;
  __builtin_trap();
#else
  fprintf(stderr, "lwIP assertion failed: %s (%s:%d)\n", message, file, line);
  abort();
#endif
}

static u32_t now_ms;
static u32_t rand_state = 0x9e3779b9u;

u32_t sys_now(void) { return now_ms; }
void portnet_set_now(u32_t ms) { now_ms = ms; }

unsigned int portnet_lwip_rand(void)
{
  /* xorshift32: lwIP needs unpredictable-enough ISNs and ports, not crypto. */
  u32_t x = rand_state;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  rand_state = x;
  return x;
}

static int initialised;

void portnet_init(u32_t seed)
{
  rand_state = seed ? seed : 0x9e3779b9u;
  if (!initialised) {
    /* Once per process: lwIP's pools and timer lists are global, and
     * lwip_init() again would forget what they hold. */
    lwip_init();
    initialised = 1;
  }
}

/* --- the netif --- */

typedef err_t (*portnet_output_fn)(const u8_t *frame, u16_t len);

static struct netif the_netif;
static int netif_added;
static portnet_output_fn output_fn;
static u8_t the_mac[6];
static u16_t the_mtu;
static int the_ip_medium;
static u8_t tx_bounce[PBUF_POOL_BUFSIZE + 64];

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
  (void)netif;
  if (p->tot_len > sizeof(tx_bounce)) {
    return ERR_BUF;
  }
  u16_t len = pbuf_copy_partial(p, tx_bounce, p->tot_len, 0);
  return output_fn(tx_bounce, len);
}

/* A link without a link header (SLIP): the IP packet is the frame, and there
 * is no next hop to resolve, so the packet goes to the link as it is. */
static err_t ip_medium_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
  (void)dst;
  return linkoutput(netif, p);
}

static err_t netif_setup(struct netif *netif)
{
  netif->name[0] = 'p';
  netif->name[1] = 'n';
  netif->linkoutput = linkoutput;
  netif->mtu = the_mtu;
  if (the_ip_medium) {
    netif->output = ip_medium_output;
    netif->hwaddr_len = 0;
    netif->flags = NETIF_FLAG_BROADCAST;
  } else {
    netif->output = etharp_output;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, the_mac, 6);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  }
  return ERR_OK;
}

/* `mac` NULL: an IP-medium link (no link header, no ARP; input through
 * ip_input). Otherwise an Ethernet link with that address. */
int portnet_netif_add(const u8_t *mac, u32_t ip, u32_t mask, u32_t gw, u16_t mtu,
                      portnet_output_fn out)
{
  if (netif_added) {
    return ERR_USE;
  }
  ip4_addr_t a, m, g;
  a.addr = ip; m.addr = mask; g.addr = gw;
  the_ip_medium = mac == NULL;
  if (!the_ip_medium) {
    memcpy(the_mac, mac, 6);
  }
  the_mtu = mtu;
  output_fn = out;
  if (netif_add(&the_netif, &a, &m, &g, NULL, netif_setup,
                the_ip_medium ? ip_input : ethernet_input) == NULL) {
    return ERR_IF;
  }
  netif_set_default(&the_netif);
  netif_set_up(&the_netif);
  netif_set_link_up(&the_netif);
  netif_added = 1;
  return ERR_OK;
}

/* Frees every lwIP resource a stack left: its connections (also those closing
 * or in TIME_WAIT, which lwIP keeps after tcp_close), listeners, UDP sockets
 * and the netif, so that the next stack of the process starts clean. */
void portnet_teardown(void)
{
  while (tcp_active_pcbs != NULL) {
    tcp_abort(tcp_active_pcbs);
  }
  while (tcp_tw_pcbs != NULL) {
    tcp_abort(tcp_tw_pcbs);
  }
  while (tcp_bound_pcbs != NULL) {
    tcp_close(tcp_bound_pcbs);
  }
  while (tcp_listen_pcbs.listen_pcbs != NULL) {
    tcp_close((struct tcp_pcb *)tcp_listen_pcbs.listen_pcbs);
  }
  while (udp_pcbs != NULL) {
    udp_remove(udp_pcbs);
  }
  if (netif_added) {
    netif_remove(&the_netif);
    netif_added = 0;
  }
  output_fn = NULL;
}

err_t portnet_netif_input(const u8_t *frame, u16_t len)
{
  if (!netif_added) {
    return ERR_IF;
  }
  struct pbuf *p = pbuf_alloc(PBUF_RAW, len, PBUF_POOL);
  if (p == NULL) {
    return ERR_MEM;
  }
  if (pbuf_take(p, frame, len) != ERR_OK) {
    pbuf_free(p);
    return ERR_BUF;
  }
  err_t err = the_netif.input(p, &the_netif);
  if (err != ERR_OK) {
    pbuf_free(p);
  }
  return err;
}

u32_t portnet_sleeptime(void) { return sys_timeouts_sleeptime(); }

/* --- TCP --- */

struct tcp_pcb *portnet_tcp_new(void) { return tcp_new_ip_type(IPADDR_TYPE_V4); }

err_t portnet_tcp_bind(struct tcp_pcb *pcb, u32_t ip, u16_t port)
{
  ip_addr_t a;
  ip_addr_set_ip4_u32_val(a, ip);
  ip_set_option(pcb, SOF_REUSEADDR);
  return tcp_bind(pcb, &a, port);
}

err_t portnet_tcp_connect(struct tcp_pcb *pcb, u32_t ip, u16_t port, tcp_connected_fn done)
{
  ip_addr_t a;
  ip_addr_set_ip4_u32_val(a, ip);
  return tcp_connect(pcb, &a, port, done);
}

u16_t portnet_tcp_sndbuf(const struct tcp_pcb *pcb) { return tcp_sndbuf(pcb); }
u16_t portnet_tcp_sndqueuelen(const struct tcp_pcb *pcb) { return tcp_sndqueuelen(pcb); }
int portnet_tcp_unsent(const struct tcp_pcb *pcb) { return pcb->unsent != NULL; }

void portnet_tcp_local(const struct tcp_pcb *pcb, u32_t *ip, u16_t *port)
{
  *ip = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));
  *port = pcb->local_port;
}

void portnet_tcp_remote(const struct tcp_pcb *pcb, u32_t *ip, u16_t *port)
{
  *ip = ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip));
  *port = pcb->remote_port;
}

void portnet_tcp_set_nodelay(struct tcp_pcb *pcb, int on)
{
  if (on) {
    tcp_nagle_disable(pcb);
  } else {
    tcp_nagle_enable(pcb);
  }
}

int portnet_tcp_nodelay(const struct tcp_pcb *pcb) { return tcp_nagle_disabled(pcb) ? 1 : 0; }

void portnet_tcp_set_ttl(struct tcp_pcb *pcb, u8_t ttl) { pcb->ttl = ttl; }
u8_t portnet_tcp_ttl(const struct tcp_pcb *pcb) { return pcb->ttl; }

/* Keep-alive: idle time in ms, 0 is off. */
void portnet_tcp_set_keepalive(struct tcp_pcb *pcb, u32_t idle_ms)
{
  if (idle_ms == 0) {
    ip_reset_option(pcb, SOF_KEEPALIVE);
  } else {
    ip_set_option(pcb, SOF_KEEPALIVE);
    pcb->keep_idle = idle_ms;
  }
}

u32_t portnet_tcp_keepalive(const struct tcp_pcb *pcb)
{
  return ip_get_option(pcb, SOF_KEEPALIVE) ? pcb->keep_idle : 0;
}

/* Forgets the callbacks of a pcb that Rust hands back to lwIP (tcp_close) or
 * aborts, so that no callback can reach a slot that is gone. */
void portnet_tcp_detach(struct tcp_pcb *pcb)
{
  tcp_arg(pcb, NULL);
  if (pcb->state == LISTEN) {
    tcp_accept(pcb, NULL);
    return;
  }
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
}

/* Connections Rust has let go of (detached: no callback argument) that lwIP
 * still sends or closes in the background: in tcp_active_pcbs until their
 * close completes. TIME_WAIT pcbs are on another list; their data is all
 * acknowledged. */
int portnet_tcp_closing_in_background(void)
{
  int n = 0;
  for (const struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    if (pcb->callback_arg == NULL) {
      n++;
    }
  }
  return n;
}

/* --- UDP --- */

typedef void (*portnet_udp_fn)(void *arg, struct pbuf *p, u32_t ip, u16_t port);
static portnet_udp_fn udp_handler;

static void udp_trampoline(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                           const ip_addr_t *addr, u16_t port)
{
  (void)pcb;
  if (udp_handler == NULL || addr == NULL) {
    pbuf_free(p);
    return;
  }
  udp_handler(arg, p, ip4_addr_get_u32(ip_2_ip4(addr)), port);
}

void portnet_udp_set_handler(portnet_udp_fn handler) { udp_handler = handler; }

struct udp_pcb *portnet_udp_new(void *arg)
{
  struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_V4);
  if (pcb != NULL) {
    udp_recv(pcb, udp_trampoline, arg);
  }
  return pcb;
}

err_t portnet_udp_bind(struct udp_pcb *pcb, u32_t ip, u16_t port)
{
  ip_addr_t a;
  ip_addr_set_ip4_u32_val(a, ip);
  return udp_bind(pcb, &a, port);
}

err_t portnet_udp_sendto(struct udp_pcb *pcb, const u8_t *data, u16_t len, u32_t ip, u16_t port)
{
  ip_addr_t a;
  ip_addr_set_ip4_u32_val(a, ip);
  struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, len, PBUF_RAM);
  if (p == NULL) {
    return ERR_MEM;
  }
  if (pbuf_take(p, data, len) != ERR_OK) {
    pbuf_free(p);
    return ERR_BUF;
  }
  err_t err = udp_sendto(pcb, p, &a, port);
  pbuf_free(p);
  return err;
}

void portnet_udp_local(const struct udp_pcb *pcb, u32_t *ip, u16_t *port)
{
  *ip = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));
  *port = pcb->local_port;
}

void portnet_udp_set_ttl(struct udp_pcb *pcb, u8_t ttl) { pcb->ttl = ttl; }
u8_t portnet_udp_ttl(const struct udp_pcb *pcb) { return pcb->ttl; }

void portnet_udp_detach(struct udp_pcb *pcb) { udp_recv(pcb, NULL, NULL); }

u16_t portnet_pbuf_tot_len(const struct pbuf *p) { return p->tot_len; }

/* One element of lwIP's static TCP pcb pool, as the pool lays it out (with its
 * alignment and any overflow-check padding): what a connection costs in lwIP's
 * own RAM, the C half of `portnet_lwip::tcp_socket_ram`. */
u16_t portnet_tcp_pcb_pool_size(void) { return memp_pools[MEMP_TCP_PCB]->size; }
