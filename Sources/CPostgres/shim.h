#ifndef WAFER_CPOSTGRES_SHIM_H
#define WAFER_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
