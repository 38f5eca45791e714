#ifndef WAFER_ALLOCATION_COUNTER_H
#define WAFER_ALLOCATION_COUNTER_H

#include <stddef.h>

/// Heap allocations made by the process since it started (this library preloaded).
unsigned long long wafer_allocation_count(void);

#endif
