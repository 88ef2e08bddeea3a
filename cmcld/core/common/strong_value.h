// StrongValue<Tag, T>: a distinct type per identifier or counter (STYLE.md rule 20), so
// a Term can never be passed where a LogIndex is expected, nor a PackageName where a
// NodeName is. Comparison and hashing come with it; arithmetic does not (add it to a
// specific type only where it means something).
#pragma once

#include <compare>
#include <functional>
#include <ostream>
#include <utility>

namespace cmcl {

template <typename Tag, typename T>
class StrongValue {
 public:
  using ValueType = T;

  constexpr StrongValue() = default;
  constexpr explicit StrongValue(T value) : value_(std::move(value)) {}

  constexpr const T& value() const { return value_; }

  friend constexpr auto operator<=>(const StrongValue&, const StrongValue&) = default;
  friend constexpr bool operator==(const StrongValue&, const StrongValue&) = default;
  friend std::ostream& operator<<(std::ostream& out, const StrongValue& v) {
    return out << v.value_;
  }

 private:
  T value_{};
};

}  // namespace cmcl

template <typename Tag, typename T>
struct std::hash<cmcl::StrongValue<Tag, T>> {
  size_t operator()(const cmcl::StrongValue<Tag, T>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
