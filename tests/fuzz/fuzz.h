/*
 * The libFuzzer entry points every target in tests/fuzz defines (fuzz_<target>.c). Built two
 * ways: with clang -fsanitize=fuzzer for fuzzing (`make fuzz`), and with replay.c as main()
 * under gcc ASan+UBSan so the committed corpora run in the ordinary test run
 * (`make MODE=asan fuzz-replay`). See README.md.
 */
#ifndef PX_TESTS_FUZZ_H
#define PX_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs one input; returns 0 (libFuzzer reserves other values). Must not leak. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time setup, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: a finding, reported like a crash (abort, so both libFuzzer and the
 * replay driver keep the input). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
