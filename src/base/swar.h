/*
 * Byte tests on 8 bytes at once (SIMD within a register), for the scanners that look for a few
 * byte values in long text (JSON escaping, text cleaning). Each returns the word with the high
 * bit set in the bytes that match, and 0 when none does. A borrow can also mark a byte above a
 * matching one, never one below, so "any match" and the lowest mark are exact.
 */
#ifndef PX_BASE_SWAR_H
#define PX_BASE_SWAR_H

#include <stdint.h>

#define PX_SWAR_ONES 0x0101010101010101ULL
#define PX_SWAR_HIGHS 0x8080808080808080ULL

/* Bytes of v equal to c. */
static inline uint64_t px_swar_eq(uint64_t v, unsigned char c)
{
    uint64_t x = v ^ (PX_SWAR_ONES * c);
    return (x - PX_SWAR_ONES) & ~x & PX_SWAR_HIGHS;
}

/* Bytes of v below n (n <= 0x80). */
static inline uint64_t px_swar_lt(uint64_t v, unsigned char n)
{
    return (v - PX_SWAR_ONES * n) & ~v & PX_SWAR_HIGHS;
}

#endif
