/* main.c -- the pipit command line. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("pipit %s\n", PIPIT_VERSION);
        return 0;
    }
    fprintf(stderr, "pipit: not yet runnable\n");
    return 1;
}
