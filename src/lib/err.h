/*
 * Internal error codes: 0 is success, every failure a positive code from
 * errlist.h, with a fixed message from errString(). Functions return `int`;
 * public APIs translate these into their own documented codes at the edge.
 */
#ifndef LIB_ERR_H
#define LIB_ERR_H

#include "lib/errlist.h"

#define LIB_ERR_ENUM_(name, value, message) name = value,
enum { ERR_OK = 0, LIB_ERRLIST(LIB_ERR_ENUM_) };
#undef LIB_ERR_ENUM_

/* Fixed message of a code; "unknown error" for a value not in the list.
 * The string is static: callers never free it. */
const char *errString(int code);

#endif /* LIB_ERR_H */
