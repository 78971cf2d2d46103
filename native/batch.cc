// batchRegister: validates a PacketBatch's slab and typed arrays once and wraps them in a handle object.
#include "batch.h"

#include <errno.h>

#include <string>

#include "args.h"
#include "functions.h"

namespace tartan {
namespace {

// Marks handle objects as ours, so a stray object passed as a batch is a TypeError, not a wild pointer.
const napi_type_tag kBatchTag = {0x74617274616e2d62ULL, 0x617463682d763031ULL};

// The typed array in info[i] if it is of `type` with at least `min_len` elements, else throws.
bool TypedArg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
              const char* type_name, size_t min_len, Napi::TypedArray* out) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowType(info.Env(), "batchRegister", std::string(name) + " must be a " + type_name);
    return false;
  }
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  if (a.ElementLength() < min_len) {
    ThrowType(info.Env(), "batchRegister",
              std::string(name) + " has " + std::to_string(a.ElementLength()) + " elements, fewer than the " +
                  std::to_string(min_len) + " of offsets");
    return false;
  }
  *out = a;
  return true;
}

// Re-reads a typed array's data pointer and length from its reference.
template <typename T>
bool ViewOf(napi_env env, const Napi::Reference<Napi::TypedArray>& ref, uint32_t capacity, T** out) {
  napi_value v;
  if (napi_get_reference_value(env, ref.operator napi_ref(), &v) != napi_ok || v == nullptr) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (length < capacity || data == nullptr) return false;
  *out = static_cast<T*>(data);
  return true;
}

// Re-reads every pointer (a buffer may have been transferred or resized since registration). false when
// the memory no longer covers the registered geometry.
bool Refresh(napi_env env, Batch* b) {
  napi_value v;
  if (napi_get_reference_value(env, b->slab_ref.operator napi_ref(), &v) != napi_ok || v == nullptr) return false;
  void* data = nullptr;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, v, &data, &len) != napi_ok) return false;
  if (data == nullptr || len < static_cast<size_t>(b->capacity) * b->slot_size) return false;
  b->slab = static_cast<uint8_t*>(data);
  b->slab_len = len;
  return ViewOf(env, b->offsets_ref, b->capacity, &b->offsets) &&
         ViewOf(env, b->lengths_ref, b->capacity, &b->lengths) &&
         ViewOf(env, b->addrs_ref, b->capacity, &b->addrs) && ViewOf(env, b->ports_ref, b->capacity, &b->ports) &&
         ViewOf(env, b->status_ref, b->capacity, &b->status);
}

}  // namespace

// batchRegister(buffer, slotSize, headroom, offsets, lengths, addrs, ports, status): checks types, that
// every array holds at least offsets.length (the capacity) entries and that capacity slots of slotSize
// bytes fit in the buffer with headroom < slotSize; returns the handle object or throws a TypeError.
Napi::Value BatchRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "batchRegister";
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    ThrowType(env, fn, "buffer must be an ArrayBuffer");
    return env.Undefined();
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  int64_t slot_size = 0, headroom = 0;
  if (!ArgInt(info, 1, fn, "slotSize", 1, UINT32_MAX, &slot_size) ||
      !ArgInt(info, 2, fn, "headroom", 0, UINT32_MAX, &headroom))
    return env.Undefined();
  if (headroom >= slot_size) {
    ThrowType(env, fn, "headroom must be smaller than slotSize");
    return env.Undefined();
  }
  if (info.Length() < 4 || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowType(env, fn, "offsets must be a Uint32Array");
    return env.Undefined();
  }
  size_t capacity = info[3].As<Napi::TypedArray>().ElementLength();
  if (capacity < 1 || capacity > 65536) {
    ThrowType(env, fn, "offsets must hold 1..65536 entries (the batch capacity)");
    return env.Undefined();
  }
  Napi::TypedArray offsets, lengths, addrs, ports, status;
  if (!TypedArg(info, 3, "offsets", napi_uint32_array, "Uint32Array", capacity, &offsets) ||
      !TypedArg(info, 4, "lengths", napi_uint32_array, "Uint32Array", capacity, &lengths) ||
      !TypedArg(info, 5, "addrs", napi_uint32_array, "Uint32Array", capacity, &addrs) ||
      !TypedArg(info, 6, "ports", napi_uint16_array, "Uint16Array", capacity, &ports) ||
      !TypedArg(info, 7, "status", napi_int32_array, "Int32Array", capacity, &status))
    return env.Undefined();
  uint64_t need = static_cast<uint64_t>(capacity) * static_cast<uint64_t>(slot_size);
  if (need > UINT32_MAX) {
    ThrowType(env, fn, "capacity * slotSize must stay below 4 GiB (offsets are 32-bit)");
    return env.Undefined();
  }
  if (buffer.ByteLength() < need) {
    ThrowType(env, fn,
              "buffer holds " + std::to_string(buffer.ByteLength()) + " bytes, fewer than " +
                  std::to_string(capacity) + " slots of " + std::to_string(slot_size));
    return env.Undefined();
  }

  Batch* b = new Batch();
  b->capacity = static_cast<uint32_t>(capacity);
  b->slot_size = static_cast<uint32_t>(slot_size);
  b->headroom = static_cast<uint32_t>(headroom);
  b->slab_ref = Napi::Persistent(buffer);
  b->offsets_ref = Napi::Persistent(offsets);
  b->lengths_ref = Napi::Persistent(lengths);
  b->addrs_ref = Napi::Persistent(addrs);
  b->ports_ref = Napi::Persistent(ports);
  b->status_ref = Napi::Persistent(status);
  b->msgs.reset(new struct mmsghdr[capacity]());
  b->iovs.reset(new struct iovec[capacity]());
  b->names.reset(new struct sockaddr_in[capacity]());

  Napi::External<Batch> handle = Napi::External<Batch>::New(env, b, [](Napi::Env, Batch* p) { delete p; });
  handle.TypeTag(&kBatchTag);
  return handle;
}

Batch* BatchArg(const Napi::CallbackInfo& info, size_t i, const char* fn, int* err) {
  *err = 0;
  if (i >= info.Length() || !info[i].IsExternal() || !info[i].As<Napi::External<Batch>>().CheckTypeTag(&kBatchTag)) {
    ThrowType(info.Env(), fn, "batch must be a handle returned by batchRegister");
    return nullptr;
  }
  Batch* b = info[i].As<Napi::External<Batch>>().Data();
  if (!Refresh(info.Env(), b)) {
    *err = EINVAL;
    return nullptr;
  }
  return b;
}

}  // namespace tartan
