/*
 * Publishes an FLV file through librtmp, the RTMP client library OBS Studio's own
 * fork comes from: the peer for `ffmpeg_push.rs`'s librtmp_push test.
 *
 * The prototypes below are librtmp 2.4's public API (rtmp.h), declared here so that
 * only the shared library (Debian's librtmp1) is needed, not its headers:
 *
 *   cc -o librtmp_push librtmp_push.c -l:librtmp.so.1
 *   RTMP_LIBRTMP_PUSH=$PWD/librtmp_push cargo test -p rtmp --test ffmpeg_push librtmp
 *
 * Usage: librtmp_push URL FILE.flv. Exit status 0 when every byte was written and
 * the stream closed (FCUnpublish, deleteStream) cleanly.
 */
#include <stdio.h>
#include <stdlib.h>

typedef struct RTMP RTMP;
RTMP *RTMP_Alloc(void);
void RTMP_Init(RTMP *r);
int RTMP_SetupURL(RTMP *r, char *url);
void RTMP_EnableWrite(RTMP *r);
int RTMP_Connect(RTMP *r, void *packet);
int RTMP_ConnectStream(RTMP *r, int seek_time);
int RTMP_Write(RTMP *r, const char *buf, int size);
void RTMP_Close(RTMP *r);
void RTMP_Free(RTMP *r);

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s URL FILE.flv\n", argv[0]);
        return 2;
    }
    FILE *file = fopen(argv[2], "rb");
    if (!file) {
        perror(argv[2]);
        return 2;
    }
    RTMP *r = RTMP_Alloc();
    RTMP_Init(r);
    if (!RTMP_SetupURL(r, argv[1])) {
        fprintf(stderr, "bad url\n");
        return 1;
    }
    RTMP_EnableWrite(r);
    if (!RTMP_Connect(r, NULL) || !RTMP_ConnectStream(r, 0)) {
        fprintf(stderr, "connect or publish refused\n");
        RTMP_Free(r);
        return 1;
    }
    /* RTMP_Write takes whole FLV tags (it reads each 11-byte tag header from the
     * buffer it is given, as OBS hands it one packet at a time): read the file, then
     * hand it the 13-byte file header with the first tag, then one tag (header, body,
     * previous-tag-size) per call. */
    static char data[64 << 20];
    size_t len = fread(data, 1, sizeof data, file);
    int status = 0;
    size_t at = 0;
    while (at + 11 <= len) {
        size_t start = at;
        if (at == 0)
            at = 13; /* FLV header, written with the first tag */
        if (at + 11 > len)
            break;
        size_t body = ((size_t)(unsigned char)data[at + 1] << 16) |
                      ((size_t)(unsigned char)data[at + 2] << 8) |
                      (size_t)(unsigned char)data[at + 3];
        size_t end = at + 11 + body + 4;
        if (end > len)
            break;
        if (RTMP_Write(r, data + start, (int)(end - start)) <= 0) {
            fprintf(stderr, "write failed\n");
            status = 1;
            break;
        }
        at = end;
    }
    fclose(file);
    RTMP_Close(r);
    RTMP_Free(r);
    return status;
}
