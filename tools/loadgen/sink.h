/* sink.h -- `pipit-loadgen sink` (sink.c). */
#ifndef PIPIT_LOADGEN_SINK_H
#define PIPIT_LOADGEN_SINK_H

/* argv[0] is "sink". Returns the process exit status. */
int lg_sink_main(int argc, char **argv);

#endif
