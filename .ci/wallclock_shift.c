/* LD_PRELOAD shim: shift the wall clock (CLOCK_REALTIME) by WALLCLOCK_OFFSET seconds.
 *
 * Why not libfaketime: its 0.9.10 build also rewrites monotonic waits, and Python 3.11's
 * timed waits (Event.wait, time.sleep via clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME))
 * then hang or fail with EINVAL, whatever FAKETIME_DONT_FAKE_MONOTONIC says. Only the
 * hour of the day matters to our tests, so this moves the wall clock and nothing else.
 * Built and used by .ci/at-time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long offset_ns(void) {
    static int ready = 0;
    static long long offset = 0;
    if (!ready) {
        const char *text = getenv("WALLCLOCK_OFFSET");
        offset = text ? (long long)(atof(text) * 1e9) : 0;
        ready = 1;
    }
    return offset;
}

static void shift(struct timespec *ts) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns();
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *) = 0;
    if (!real) real = dlsym(RTLD_NEXT, "clock_gettime");
    int result = real(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) shift(ts);
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void)tz;
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
