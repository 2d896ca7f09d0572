/*
 * Fuzz target: the CSV reader (src/engine/connectors/csv.c: the source's reader thread, record
 * splitting, quoting, type inference, batching). The first input byte picks the options (bit 0:
 * no header row; bits 1-2: the delimiter , ; TAB |; bits 3-7: rows per batch, 1..32, so batch
 * boundaries fall everywhere); the rest is written as in.csv in a private files directory and
 * read to the end through the connector's own callbacks, as a run does.
 *
 * Invariants besides memory safety: every batch has the first batch's columns (the schema is
 * fixed by the header or the first record) and at most the rows per batch; the rows read are
 * never more than the input's line ends + 1; a refusal (-PX_EINVALID for a malformed record,
 * -PX_ETOOLARGE for an oversized one) carries a message; the source closes cleanly whether it
 * was drained or stopped by an error.
 */
#include "fuzz.h"

#include "base/err.h"
#include "base/json.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char root[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(root, sizeof(root), "/tmp/px-fuzz-csv-XXXXXX");
    if (!mkdtemp(root)) {
        perror("fuzz_csv: mkdtemp");
        exit(1);
    }
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/in.csv", root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const delims[] = {",", ";", "\t", "|"};
    bool header = !(data[0] & 1);
    const char *delim = delims[(data[0] >> 1) & 3];
    int64_t batch_rows = 1 + (data[0] >> 3);
    write_input(data + 1, size - 1);
    size_t line_ends = 0;
    for (size_t i = 1; i < size; i++)
        line_ends += data[i] == '\n' || data[i] == '\r';

    struct json_object *config = json_object_new_object(), *params = json_object_new_object();
    px_json_set_str(config, "file", "in.csv");
    px_json_set_str(params, "path", ".");
    px_json_set_str(params, "delimiter", delim);
    px_json_set(params, "header", json_object_new_boolean(header));
    struct px_engine_opts opts = {.files_root = root, .batch_rows = batch_rows};
    struct px_node_ctx ctx = {.node_id = "src",
                              .config = config,
                              .params = params,
                              .opts = &opts,
                              .batch_rows = batch_rows};
    struct px_error err;
    px_error_clear(&err);
    void *st = NULL;
    int rc = px__conn_csv.open_source(&ctx, &st, &err);
    if (rc < 0) {
        FUZZ_CHECK(err.message[0] != '\0');
    } else {
        int ncols = -1;
        int64_t rows = 0;
        for (;;) {
            struct px_batch *b = NULL;
            rc = px__conn_csv.next_batch(st, &b, &err);
            if (rc < 0) {
                FUZZ_CHECK(b == NULL);
                FUZZ_CHECK(err.message[0] != '\0');
                FUZZ_CHECK(rc == -PX_EINVALID || rc == -PX_ETOOLARGE || rc == -PX_EIO);
                break;
            }
            if (!b)
                break;
            if (ncols < 0)
                ncols = b->ncols;
            FUZZ_CHECK(b->ncols == ncols);
            FUZZ_CHECK(b->nrows <= batch_rows);
            rows += b->nrows;
            px_batch_destroy(b);
        }
        FUZZ_CHECK(rows <= (int64_t)line_ends + 1);
        px__conn_csv.close_source(st);
    }
    json_object_put(config);
    json_object_put(params);
    return 0;
}
