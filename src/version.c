/* SPDX-License-Identifier: MIT */
/* version.c — the library's version at run time (og_version). */
#include "onnxgrad/onnxgrad.h"

const char *og_version(void) { return OG_VERSION_STRING; }
