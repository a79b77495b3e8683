/* A stand-in for libcuda.so.1: cuDriverGetVersion answers FAKE_CUDA_DRIVER (default 12040 = 12.4).
 * FAKE_GPU_MARKER: a file the library appends "libcuda" to when it is loaded. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void loaded(void) {
    const char *marker = getenv("FAKE_GPU_MARKER");
    if (marker && *marker) {
        FILE *file = fopen(marker, "a");
        if (file) { fputs("libcuda\n", file); fclose(file); }
    }
}

int cuDriverGetVersion(int *version) {
    const char *s = getenv("FAKE_CUDA_DRIVER");
    *version = s ? atoi(s) : 12040;
    return 0;
}
