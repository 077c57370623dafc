/* The parsed configuration, in RAM for the firmware's life (the controller
 * and the MQTT client point into it). Its own file so the footprint report
 * shows its size, which the core's CONFIG_MAX_* limits decide. */
#include "config_store.h"

config firmware_config;
