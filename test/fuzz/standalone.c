/*
 * A main() for fuzz targets outside libFuzzer: runs LLVMFuzzerTestOneInput
 * over every file named on the command line (directories are walked one
 * level deep). `make check` uses it to replay the committed corpus and the
 * crash regressions of each target with the ordinary and sanitizer builds.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int runFile(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    return 0;
}

static int runDir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 1;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (runFile(path) != 0) {
            closedir(d);
            return 1;
        }
        (*count)++;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            continue; /* a target without committed inputs yet */
        }
        int rv = S_ISDIR(st.st_mode) ? runDir(argv[i], &count)
                                     : (count++, runFile(argv[i]));
        if (rv != 0) {
            return 1;
        }
    }
    printf("[====] %s: replayed %d inputs\n", argv[0], count);
    return 0;
}
