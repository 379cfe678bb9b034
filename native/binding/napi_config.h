// node-addon-api, configured the same way for every translation unit of the addon: include this, never <napi.h>
// directly (its inline functions would differ between files).
//
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker_thread is being terminated, Node-API refuses every call
// that may run JS (napi_pending_exception with no exception pending). Without this switch node-addon-api then
// aborts the whole process: Napi::Error's constructor fails fatally wrapping the null that a caught termination
// leaves as "exception", and its callback wrapper, unable to napi_throw a Napi::Error, rethrows it as a C++
// exception into V8 ("terminate called after throwing an instance of 'Napi::Error'"). With it, an error that can
// no longer reach JS is dropped: the environment that would have received it is going away.
#pragma once

#if defined(SRC_NAPI_H_)
#error "napi.h was included before napi_config.h: include napi_config.h instead"
#endif
// CMakeLists.txt and binding.gyp define it for every file too, so a file that includes <napi.h> directly is covered
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#include <napi.h>
