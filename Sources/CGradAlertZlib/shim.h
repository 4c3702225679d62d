#ifndef CGRADALERT_ZLIB_SHIM_H
#define CGRADALERT_ZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are macros (they pass the library version and the stream size),
// which Swift cannot call; these wrappers can be.
static inline int CGradAlertZlib_deflateInit2(z_streamp stream, int level, int method, int windowBits,
                                             int memLevel, int strategy) {
    return deflateInit2(stream, level, method, windowBits, memLevel, strategy);
}

static inline int CGradAlertZlib_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

#endif
