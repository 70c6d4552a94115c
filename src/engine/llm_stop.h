/*
 * llm_stop.h — stop strings for a streaming generation. Text is fed as it
 * is decoded; what cannot be the start of a stop string is released at
 * once, a possible prefix of one is held back until it is decided. When a
 * stop string appears, the text before it is released and the rest is
 * dropped. Part of the engine layer; used by `janc run` and the server.
 */
#ifndef LLM_STOP_H
#define LLM_STOP_H

#include "base/jc.h"

typedef struct llm_stop llm_stop;

/* A matcher for n stop strings (copied; empty ones ignored). Caller frees. */
llm_stop *llm_stop_new(const char *const *stops, int n);
void llm_stop_free(llm_stop *s); /* NULL is fine */

/*
 * Feeds text[0..len). Appends the text now safe to show to out. Returns 1
 * when a stop string was found (out then holds everything before it; feed
 * no more), 0 otherwise, -1 when out reached its maximum.
 */
int llm_stop_feed(llm_stop *s, const char *text, size_t len, jc_buf *out);
/* At the end of generation: appends what is still held back. Returns 0 or -1. */
int llm_stop_flush(llm_stop *s, jc_buf *out);

#endif
