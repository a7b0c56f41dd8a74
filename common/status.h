// The one error idiom shared by every module: a Status carries a short fixed reason code
// (safe to use as a Prometheus label value) and a human-readable message (for logs and
// ?debug=true output only, never a label). Result<T> is a value or a failed Status.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mxtls {

class Status {
 public:
  // A default-constructed Status is OK.
  Status() = default;

  // `reason` must be a short fixed word such as "timeout" or "refused"; it becomes a
  // label value. `message` is free text for people.
  static Status Error(std::string_view reason, std::string message) {
    Status s;
    s.reason_ = reason.empty() ? "error" : std::string(reason);
    s.message_ = std::move(message);
    return s;
  }

  bool ok() const { return reason_.empty(); }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }

  // "reason: message" for logs; "ok" when OK.
  std::string ToString() const {
    if (ok()) return "ok";
    return message_.empty() ? reason_ : reason_ + ": " + message_;
  }

 private:
  std::string reason_;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  // The error; an OK Status when the result holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace mxtls
