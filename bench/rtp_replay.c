/* Replay sender of the media benchmarks: N copies of one PS clip over RTP/UDP, like cameras.
 *
 * Built and driven by bench/rtp_replay.py. A Python sender costs as much CPU as the platform
 * it loads on a 2-core machine; this one sends each frame of each copy as one burst with one
 * sendmmsg(2) at the frame's time (frame n of a copy at start + n / fps), as the outside
 * harness of issue 14 did. Every copy has its own socket connected to its own platform port,
 * its own SSRC, sequence numbers and a random timestamp base; PS SCR/PTS/DTS are re-stamped
 * on every pass of the loop so they keep growing like a camera's.
 *
 * Clip file (little-endian, written by rtp_replay.py):
 *   "FWCLIP1\0", u32 fps, u32 frames, u64 loop duration (90 kHz ticks),
 *   per frame: u8 keyframe, u64 pts, u64 dts, u32 scr offset, u32 n pts offsets, u32 each,
 *              u32 n dts offsets, u32 each, u32 size, bytes.
 * Commands on stdin, one per line:
 *   start KEY HOST PORT SSRC RECORD | stop KEY | stats | times KEY | quit
 * Answers on stdout, one JSON line per `stats` / `times`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1400
#define MAX_PACKETS 4096
#define RECENT 256
#define MAX_EVENTS 256

typedef struct {
    int keyframe;
    uint64_t pts, dts;
    uint32_t scr_offset, n_pts, n_dts, size;
    uint32_t *pts_offsets, *dts_offsets;
    uint8_t *data;
} Frame;

typedef struct {
    int used, fd, record;
    long key;
    uint32_t ssrc, base;
    double start;
    uint64_t number, sequence, packets, errors, reports;
    int64_t lost;
    double lag;
    uint64_t recent_seq[RECENT];
    double recent_at[RECENT];
    double *times;
    size_t n_times, cap_times;
} Copy;

typedef struct {
    double due;
    int index;
} Due;

static uint32_t fps, n_frames;
static uint64_t loop_duration;
static Frame *frames;
static Copy *copies;
static size_t n_copies, cap_copies;
static Due *heap;
static size_t heap_len, heap_cap;
static double *late;
static size_t n_late, cap_late;
static int epoll_fd;
static uint8_t scratch[8 << 20];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void *grow(void *ptr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return ptr;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    ptr = realloc(ptr, cap2 * size);
    if (!ptr) die("realloc");
    *cap = cap2;
    return ptr;
}

static void read_exact(FILE *f, void *out, size_t n) {
    if (fread(out, 1, n, f) != n) {
        fprintf(stderr, "clip file truncated\n");
        exit(1);
    }
}

static uint32_t read_u32(FILE *f) { uint32_t v; read_exact(f, &v, 4); return v; }
static uint64_t read_u64(FILE *f) { uint64_t v; read_exact(f, &v, 8); return v; }

static void load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    char magic[8];
    read_exact(f, magic, 8);
    if (memcmp(magic, "FWCLIP1", 8) != 0) {
        fprintf(stderr, "not a clip file\n");
        exit(1);
    }
    fps = read_u32(f);
    n_frames = read_u32(f);
    loop_duration = read_u64(f);
    frames = calloc(n_frames, sizeof(Frame));
    for (uint32_t i = 0; i < n_frames; i++) {
        Frame *fr = &frames[i];
        uint8_t key;
        read_exact(f, &key, 1);
        fr->keyframe = key;
        fr->pts = read_u64(f);
        fr->dts = read_u64(f);
        fr->scr_offset = read_u32(f);
        fr->n_pts = read_u32(f);
        fr->pts_offsets = calloc(fr->n_pts + 1, 4);
        for (uint32_t j = 0; j < fr->n_pts; j++) fr->pts_offsets[j] = read_u32(f);
        fr->n_dts = read_u32(f);
        fr->dts_offsets = calloc(fr->n_dts + 1, 4);
        for (uint32_t j = 0; j < fr->n_dts; j++) fr->dts_offsets[j] = read_u32(f);
        fr->size = read_u32(f);
        if (fr->size > sizeof(scratch)) {
            fprintf(stderr, "frame too large\n");
            exit(1);
        }
        fr->data = malloc(fr->size);
        read_exact(f, fr->data, fr->size);
    }
    fclose(f);
}

/* ISO/IEC 13818-1: 5-byte PTS/DTS field and the 6-byte MPEG-2 SCR (extension 0). */
static void put_timestamp(uint8_t *out, uint8_t prefix, uint64_t v) {
    v &= (1ULL << 33) - 1;
    out[0] = (uint8_t)((prefix << 4) | (((v >> 30) & 0x07) << 1) | 1);
    out[1] = (uint8_t)((v >> 22) & 0xFF);
    out[2] = (uint8_t)((((v >> 15) & 0x7F) << 1) | 1);
    out[3] = (uint8_t)((v >> 7) & 0xFF);
    out[4] = (uint8_t)(((v & 0x7F) << 1) | 1);
}

static void put_scr(uint8_t *out, uint64_t base) {
    base &= (1ULL << 33) - 1;
    out[0] = (uint8_t)(0x44 | (((base >> 30) & 0x07) << 3) | ((base >> 28) & 0x03));
    out[1] = (uint8_t)((base >> 20) & 0xFF);
    out[2] = (uint8_t)((((base >> 15) & 0x1F) << 3) | 0x04 | ((base >> 13) & 0x03));
    out[3] = (uint8_t)((base >> 5) & 0xFF);
    out[4] = (uint8_t)(((base & 0x1F) << 3) | 0x04);
    out[5] = 0x01;
}

static void heap_push(double due, int index) {
    heap = grow(heap, &heap_cap, heap_len + 1, sizeof(Due));
    size_t i = heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap[parent].due <= due) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i].due = due;
    heap[i].index = index;
}

static Due heap_pop(void) {
    Due top = heap[0], last = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap_len) break;
        if (child + 1 < heap_len && heap[child + 1].due < heap[child].due) child++;
        if (last.due <= heap[child].due) break;
        heap[i] = heap[child];
        i = child;
    }
    if (heap_len) heap[i] = last;
    return top;
}

static void send_frame(Copy *c) {
    static struct mmsghdr msgs[MAX_PACKETS];
    static struct iovec iov[2 * MAX_PACKETS];
    static uint8_t headers[MAX_PACKETS][12];
    uint64_t pass = c->number / n_frames;
    Frame *fr = &frames[c->number % n_frames];
    uint64_t shift = pass * loop_duration;
    memcpy(scratch, fr->data, fr->size);
    put_scr(scratch + fr->scr_offset, fr->dts + shift);
    for (uint32_t j = 0; j < fr->n_pts; j++) {
        uint8_t *at = scratch + fr->pts_offsets[j];
        put_timestamp(at, at[0] >> 4, fr->pts + shift);
    }
    for (uint32_t j = 0; j < fr->n_dts; j++) put_timestamp(scratch + fr->dts_offsets[j], 1, fr->dts + shift);
    uint32_t timestamp = (uint32_t)(fr->pts + shift) + c->base;
    size_t count = (fr->size + MAX_PAYLOAD - 1) / MAX_PAYLOAD;
    if (count > MAX_PACKETS) count = MAX_PACKETS;
    double sent_at = now();
    c->recent_seq[c->number % RECENT] = c->sequence;
    c->recent_at[c->number % RECENT] = sent_at;
    for (size_t i = 0; i < count; i++) {
        size_t offset = i * MAX_PAYLOAD;
        size_t length = fr->size - offset < MAX_PAYLOAD ? fr->size - offset : MAX_PAYLOAD;
        uint8_t *h = headers[i];
        uint16_t seq = (uint16_t)(c->sequence + i);
        h[0] = 0x80;
        h[1] = (uint8_t)((i == count - 1 ? 0x80 : 0) | 96);
        h[2] = seq >> 8;
        h[3] = seq & 0xFF;
        h[4] = timestamp >> 24; h[5] = timestamp >> 16; h[6] = timestamp >> 8; h[7] = timestamp;
        h[8] = c->ssrc >> 24; h[9] = c->ssrc >> 16; h[10] = c->ssrc >> 8; h[11] = c->ssrc;
        iov[2 * i].iov_base = h;
        iov[2 * i].iov_len = 12;
        iov[2 * i + 1].iov_base = scratch + offset;
        iov[2 * i + 1].iov_len = length;
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].msg_hdr.msg_iov = &iov[2 * i];
        msgs[i].msg_hdr.msg_iovlen = 2;
    }
    size_t done = 0;
    while (done < count) {
        int sent = sendmmsg(c->fd, msgs + done, (unsigned)(count - done), 0);
        if (sent < 0) {
            if (errno == EINTR) continue;
            c->errors += count - done;
            break;
        }
        done += (size_t)sent;
    }
    c->sequence += count;
    c->packets += done;
    if (c->record) {
        c->times = grow(c->times, &c->cap_times, c->n_times + 1, sizeof(double));
        c->times[c->n_times++] = now();
    }
    c->number++;
}

static void send_due(void) {
    double interval = 1.0 / fps;
    while (heap_len && heap[0].due <= now()) {
        Due d = heap_pop();
        Copy *c = &copies[d.index];
        if (!c->used) continue;
        late = grow(late, &cap_late, n_late + 1, sizeof(double));
        late[n_late++] = now() - d.due;
        send_frame(c);
        heap_push(c->start + c->number * interval, d.index);
    }
}

static void read_reports(Copy *c) {
    uint8_t buf[2048];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) return;
        /* RTCP RR (PT 201): header 8 bytes, then blocks of 24: ssrc, lost(fraction+24 bits),
         * extended highest sequence, jitter, LSR, DLSR. Only the first packet is read. */
        if (n < 8 || buf[1] != 201) continue;
        int blocks = buf[0] & 0x1F;
        for (int b = 0; b < blocks && 8 + 24 * (b + 1) <= n; b++) {
            uint8_t *block = buf + 8 + 24 * b;
            uint32_t ssrc = ((uint32_t)block[0] << 24) | (block[1] << 16) | (block[2] << 8) | block[3];
            if (ssrc != c->ssrc) continue;
            int32_t lost = (block[5] << 16) | (block[6] << 8) | block[7];
            if (lost & 0x800000) lost -= 0x1000000;
            uint32_t highest = ((uint32_t)block[8] << 24) | (block[9] << 16) | (block[10] << 8) | block[11];
            c->reports++;
            c->lost = lost;
            /* How long ago the first packet not yet received was sent. */
            uint64_t pending = (uint64_t)(uint16_t)(highest + 1);
            uint64_t sent16 = c->sequence & 0xFFFF;
            uint64_t behind = (sent16 - pending) & 0xFFFF;
            if (behind == 0 || behind > 0x8000) continue;
            uint64_t first_missing = c->sequence - behind;
            for (int k = 0; k < RECENT && (uint64_t)k < c->number; k++) {
                uint64_t frame = c->number - 1 - k;
                if (c->recent_seq[frame % RECENT] <= first_missing) {
                    double lag = now() - c->recent_at[frame % RECENT];
                    if (lag > c->lag) c->lag = lag;
                    break;
                }
            }
        }
    }
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_stats(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    double p99 = 0, max = 0;
    if (n_late) {
        qsort(late, n_late, sizeof(double), compare_double);
        p99 = late[(size_t)(n_late * 0.99) < n_late ? (size_t)(n_late * 0.99) : n_late - 1];
        max = late[n_late - 1];
    }
    n_late = 0;
    printf("{\"cpu\": %.6f, \"late_p99_ms\": %.3f, \"late_max_ms\": %.3f, \"streams\": [", cpu,
           p99 * 1000, max * 1000);
    int first = 1;
    for (size_t i = 0; i < n_copies; i++) {
        Copy *c = &copies[i];
        if (!c->used) continue;
        printf("%s[%ld, %llu, %llu, %llu, %llu, %lld, %.3f]", first ? "" : ", ", c->key,
               (unsigned long long)c->number, (unsigned long long)c->packets,
               (unsigned long long)c->errors, (unsigned long long)c->reports, (long long)c->lost,
               c->lag * 1000);
        c->lag = 0;
        first = 0;
    }
    printf("]}\n");
    fflush(stdout);
}

static Copy *find(long key) {
    for (size_t i = 0; i < n_copies; i++)
        if (copies[i].used && copies[i].key == key) return &copies[i];
    return NULL;
}

static void start_copy(long key, const char *host, int port, uint32_t ssrc, int record) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &local.sin_addr);
    inet_pton(AF_INET, host, &remote.sin_addr);
    int buffer = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) die("bind");
    if (connect(fd, (struct sockaddr *)&remote, sizeof(remote)) < 0) die("connect");
    copies = grow(copies, &cap_copies, n_copies + 1, sizeof(Copy));
    Copy *c = &copies[n_copies];
    memset(c, 0, sizeof(*c));
    c->used = 1;
    c->fd = fd;
    c->key = key;
    c->ssrc = ssrc;
    c->record = record;
    c->base = (uint32_t)random();
    c->start = now();
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = n_copies + 1};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    heap_push(c->start, (int)n_copies);
    n_copies++;
}

static int handle(char *line) {
    char host[64];
    long key;
    int port, record;
    unsigned long ssrc;
    if (sscanf(line, "start %ld %63s %d %lu %d", &key, host, &port, &ssrc, &record) == 5) {
        start_copy(key, host, port, (uint32_t)ssrc, record);
    } else if (sscanf(line, "stop %ld", &key) == 1) {
        Copy *c = find(key);
        if (c) {
            epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->used = 0;
        }
    } else if (strncmp(line, "stats", 5) == 0) {
        print_stats();
    } else if (sscanf(line, "times %ld", &key) == 1) {
        Copy *c = find(key);
        printf("{\"key\": %ld, \"pts_step\": %u, \"loop_frames\": %u, \"times\": [", key,
               90000 / fps, n_frames);
        for (size_t i = 0; c && i < c->n_times; i++) printf("%s%.6f", i ? ", " : "", c->times[i]);
        printf("]}\n");
        fflush(stdout);
    } else if (strncmp(line, "quit", 4) == 0) {
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: rtp_replay CLIP\n");
        return 2;
    }
    load(argv[1]);
    srandom((unsigned)getpid());
    epoll_fd = epoll_create1(0);
    fcntl(0, F_SETFL, O_NONBLOCK);
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = 0};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, 0, &event);
    static char input[1 << 16];
    size_t input_len = 0;
    int running = 1;
    while (running) {
        send_due();
        int timeout = 500;
        if (heap_len) {
            double wait = heap[0].due - now();
            timeout = wait <= 0 ? 0 : (int)ceil(wait * 1000);
        }
        struct epoll_event events[MAX_EVENTS];
        int n = epoll_wait(epoll_fd, events, MAX_EVENTS, timeout);
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == 0) {
                for (;;) {
                    ssize_t got = read(0, input + input_len, sizeof(input) - 1 - input_len);
                    if (got == 0) { running = 0; break; }
                    if (got < 0) break;
                    input_len += (size_t)got;
                    char *start = input, *newline;
                    input[input_len] = 0;
                    while (running && (newline = strchr(start, '\n'))) {
                        *newline = 0;
                        running = handle(start);
                        start = newline + 1;
                    }
                    input_len -= (size_t)(start - input);
                    memmove(input, start, input_len);
                }
            } else {
                Copy *c = &copies[events[i].data.u64 - 1];
                if (c->used) read_reports(c);
            }
        }
    }
    return 0;
}
