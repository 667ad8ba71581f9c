/* default_config.c -- what pipit runs without --config.
 *
 * OTLP in on the standard loopback ports, batched, shown by the debug
 * exporter; health on :13133 and self-metrics on :8888, as the Collector's
 * own default image does. Printed by `pipit print-default-config`. */
#include "config.h"

const char pp_default_config_yaml[] =
    "# pipit's embedded default configuration.\n"
    "receivers:\n"
    "  otlp:\n"
    "    protocols:\n"
    "      grpc:\n"
    "        endpoint: localhost:4317\n"
    "      http:\n"
    "        endpoint: localhost:4318\n"
    "\n"
    "processors:\n"
    "  batch:\n"
    "\n"
    "exporters:\n"
    "  debug:\n"
    "    verbosity: basic\n"
    "\n"
    "extensions:\n"
    "  health_check:\n"
    "    endpoint: localhost:13133\n"
    "\n"
    "service:\n"
    "  extensions: [health_check]\n"
    "  pipelines:\n"
    "    traces:\n"
    "      receivers: [otlp]\n"
    "      processors: [batch]\n"
    "      exporters: [debug]\n"
    "    metrics:\n"
    "      receivers: [otlp]\n"
    "      processors: [batch]\n"
    "      exporters: [debug]\n"
    "  telemetry:\n"
    "    metrics:\n"
    "      address: localhost:8888\n";
