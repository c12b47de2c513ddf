#include <zlib.h>

// inflateInit is a macro and does not import into Swift.
static inline int breakout_inflate_init(z_stream *stream) { return inflateInit(stream); }
