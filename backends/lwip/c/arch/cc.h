/* lwIP's platform header for portnet-lwip: the host (gcc/clang) and bare-metal
 * Cortex-M (arm-none-eabi-gcc with newlib's headers). */
#ifndef PORTNET_ARCH_CC_H
#define PORTNET_ARCH_CC_H

#include <stdint.h>
#include <stddef.h>

/* lwIP wants these only for its debug and statistics printing. */
#define LWIP_NO_INTTYPES_H          1
#define X8_F  "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "u"

/* Nothing prints: there is no console on a board, and the host tests report
 * through Rust. */
#define LWIP_PLATFORM_DIAG(x)       do { } while (0)

/* A failed assertion is a bug in this crate's use of lwIP: stop at once rather
 * than run on with corrupted state (a trap the tests and valgrind see). */
void portnet_lwip_assert(const char *message, int line, const char *file);
#define LWIP_PLATFORM_ASSERT(x)     portnet_lwip_assert((x), __LINE__, __FILE__)

#define LWIP_RAND_UNUSED

#endif
