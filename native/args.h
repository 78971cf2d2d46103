// Argument checks shared by every native function. A wrong argument type or shape is a programming error
// in the JS caller: it throws a JS TypeError (no C++ exceptions) and the function returns undefined.
// Failures of the system are never thrown: they come back as a negative errno (see src/io/native.ts).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace tartan {

// Throws `TypeError("<fn>: <what>")` as a pending JS exception.
void ThrowType(Napi::Env env, const char* fn, const std::string& what);

// Reads info[i] as an integer in [min, max]; throws a TypeError naming `fn` and `name` and returns false
// when it is missing, not a number, not an integer, or out of range.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t min,
            int64_t max, int64_t* out);

// Reads info[i] as an IPv4 address in host byte order: an integer in [-2^31, 2^32 - 1] (negative int32
// values are taken as their unsigned 32-bit pattern). Throws a TypeError and returns false otherwise.
bool ArgAddr(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, uint32_t* out);

// Reads info[i] as a string; throws a TypeError and returns false when it is not one.
bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, std::string* out);

// Reads info[i] as a boolean; throws a TypeError and returns false when it is not one.
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, bool* out);

// The JS number `value` (a result, or a negative errno).
inline Napi::Value Num(Napi::Env env, double value) { return Napi::Number::New(env, value); }

// Interface names are at most IFNAMSIZ - 1 (15) bytes and never empty or containing '/' or NUL bytes
// (the kernel's dev_valid_name()). Returns true when `name` may be one.
bool ValidIfName(const std::string& name);

}  // namespace tartan
