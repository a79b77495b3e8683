/* A stand-in for libnvidia-ml.so.1: the NVML functions torchpins calls, answering from
 * environment variables, so the real ctypes code path runs on a machine without a GPU.
 *   FAKE_NVML_CUDA    the driver's CUDA version, encoded as NVML does (12080 = 12.8); default 12080
 *   FAKE_NVML_GPUS    compute capabilities of the GPUs, "8.0,9.0" (default); "" for none
 *   FAKE_NVML_INIT    the status nvmlInit_v2 returns (default 0, success; 9 = driver not loaded),
 *                     or "segv" to crash the process, "hang" to never return (a wedged driver)
 *   FAKE_NVML_COUNT   a device count to report instead (each device answers 8.0): a lying driver
 *   FAKE_GPU_MARKER   a file the library appends "nvml" to when it is loaded
 * GPU i has the UUID GPU-<i>abcdef0-0000-0000-0000-00000000000<i>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GPUS 16
static int major_[MAX_GPUS], minor_[MAX_GPUS], count_ = -1;

__attribute__((constructor)) static void loaded(void) {
    const char *marker = getenv("FAKE_GPU_MARKER");
    if (marker && *marker) {
        FILE *file = fopen(marker, "a");
        if (file) { fputs("nvml\n", file); fclose(file); }
    }
}

static void read_gpus(void) {
    if (count_ >= 0) return;
    const char *spec = getenv("FAKE_NVML_GPUS");
    if (!spec) spec = "8.0,9.0";
    count_ = 0;
    while (*spec && count_ < MAX_GPUS) {
        int major = 0, minor = 0, used = 0;
        if (sscanf(spec, "%d.%d%n", &major, &minor, &used) != 2) break;
        major_[count_] = major; minor_[count_] = minor; count_++;
        spec += used;
        if (*spec == ',') spec++;
    }
}

int nvmlInit_v2(void) {
    const char *s = getenv("FAKE_NVML_INIT");
    if (s && strcmp(s, "segv") == 0) { volatile int *nowhere = 0; *nowhere = 1; }
    if (s && strcmp(s, "hang") == 0) { for (;;) sleep(60); }
    return s ? atoi(s) : 0;
}

static long lying_count(void) { const char *s = getenv("FAKE_NVML_COUNT"); return s ? atol(s) : -1; }
int nvmlShutdown(void) { return 0; }

int nvmlSystemGetCudaDriverVersion_v2(int *version) {
    const char *s = getenv("FAKE_NVML_CUDA");
    *version = s ? atoi(s) : 12080;
    return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
    read_gpus();
    *count = lying_count() >= 0 ? (unsigned)lying_count() : (unsigned)count_;
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **handle) {
    read_gpus();
    if (lying_count() >= 0) { *handle = (void *)(size_t)1; return 0; }
    if ((int)index >= count_) return 2;
    *handle = (void *)(size_t)(index + 1);
    return 0;
}

int nvmlDeviceGetCudaComputeCapability(void *handle, int *major, int *minor) {
    int index = (int)(size_t)handle - 1;
    if (lying_count() >= 0) { *major = 8; *minor = 0; return 0; }
    if (index < 0 || index >= count_) return 2;
    *major = major_[index]; *minor = minor_[index];
    return 0;
}

int nvmlDeviceGetUUID(void *handle, char *uuid, unsigned int length) {
    int index = (int)(size_t)handle - 1;
    if (index < 0 || index >= count_) return 2;
    snprintf(uuid, length, "GPU-%dabcdef0-0000-0000-0000-00000000000%d", index, index);
    return 0;
}
