/*
 * Messages for the codes of errlist.h, generated from the same list.
 */
#include "lib/err.h"

const char *errString(int code)
{
    switch (code) {
    case ERR_OK:
        return "success";
#define LIB_ERR_CASE_(name, value, message) \
    case name:                              \
        return message;
        LIB_ERRLIST(LIB_ERR_CASE_)
#undef LIB_ERR_CASE_
    default:
        return "unknown error";
    }
}
