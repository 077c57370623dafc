#ifndef MTC_CONFIG_STORE_H
#define MTC_CONFIG_STORE_H

#include "config.h"

extern config firmware_config;

#endif
