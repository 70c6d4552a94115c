/*
 * dlsink.h — where a download's bytes go (store_dl.c): appended to the
 * .part file in blocks of 1 MiB, hashed with SHA-256 while the download
 * runs, and handed to the disk as they come, so that the fsync before the
 * rename is short. Private to src/store/.
 *
 * Threads: a dlsink is driven by one thread, its owner (the download's;
 * every call below), and owns a second one, the hasher. The owner gathers
 * the bytes into a block, writes the block to the file and hands it to the
 * hasher, which hashes it while the owner fills the next one — from a ring
 * of 8 blocks, so the hasher is never more than 8 MiB behind and the owner
 * waits only when it is. Receiving and writing run on the owner's thread,
 * hashing beside it on another core, on the bytes as received: the hash is
 * computed while downloading, not in a second pass over the file.
 * dlsink_close always stops and joins the hasher. The hasher can fail only
 * in reading back the bytes that were in the file at open; that failure is
 * kept and returned by the next call that waits for the hasher.
 */
#ifndef STORE_DLSINK_H
#define STORE_DLSINK_H

#include "base/jc.h"

typedef struct dlsink dlsink;

/*
 * Opens path (created if absent, mode 0644) to append to it and starts the
 * hasher on the bytes already there (a .part being resumed). Wait for those
 * with dlsink_wait_hashed before the first dlsink_write or dlsink_restart
 * (a long wait, for a large .part, that the caller can interrupt). Returns
 * NULL with err set (naming path). Caller frees with dlsink_close.
 */
dlsink *dlsink_open(const char *path, jc_err *err);

/* Bytes in the file once flushed: what was there at open plus what was written since. */
uint64_t dlsink_size(const dlsink *k);

/*
 * Appends the n bytes at p: gathered into a block, written to the file when
 * the block is full or by dlsink_flush. 0, or -1 with err set and errno set
 * to the cause (ENOSPC for a full disk). Bytes written before a failure
 * stay in the file (and count in dlsink_size), so a later run can resume
 * it; after a failure only dlsink_size and dlsink_close are of use.
 */
int dlsink_write(dlsink *k, const void *p, size_t n, jc_err *err);

/* Writes out the block being filled (at the end of each attempt). 0, or -1 as dlsink_write. */
int dlsink_flush(dlsink *k, jc_err *err);

/*
 * Empties the file and starts the hash again, dropping what was gathered
 * (a server that ignored Range). 0, or -1 with err set.
 */
int dlsink_restart(dlsink *k, jc_err *err);

/*
 * With nothing gathered (after dlsink_flush): waits up to timeout_ms for
 * the hasher to have hashed every byte of the file. 1 when it has, 0 when
 * the time ran out (the caller checks for cancel and waits again), -1 with
 * err set when the bytes that were there at open could not be read.
 */
int dlsink_wait_hashed(dlsink *k, int timeout_ms, jc_err *err);

/*
 * After dlsink_wait_hashed returned 1: stops the hasher and gives the
 * SHA-256 of the whole file. No write may follow. -1 with err set when
 * OpenSSL failed, or when not every byte was hashed (a caller's mistake:
 * no digest rather than a wrong one).
 */
int dlsink_digest(dlsink *k, unsigned char sha[32], jc_err *err);

/* fsync: the bytes are on disk when it returns 0; -1 with err set otherwise. */
int dlsink_sync(dlsink *k, jc_err *err);

/* Stops and joins the hasher and closes the file (which stays). NULL is fine. */
void dlsink_close(dlsink *k);

#endif
