// The engine's bound on SMTP sessions in flight: a global limit (sockets, memory) and a limit
// per address (many mail servers run postscreen or anvil and ban clients that open many
// connections at once). Every session the engine opens -- main, no-SNI, TLS version, key type,
// DANE SNI -- takes a slot before it connects and gives it back when it ends.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace mxtls {

// Thread-safe: the engine's event loops share one limiter. A waiter sleeps on a timer of its
// own loop; the thread that frees a slot hands it over under the mutex and wakes the waiter
// by posting to the waiter's executor, so no Asio object is touched from a foreign thread.
class SessionLimiter {
 public:
  SessionLimiter(int max_sessions, int max_sessions_per_address);

  // Changes the limits (config reload); sessions already holding slots keep them, and waiters
  // are let in at once when the new limits leave room.
  void SetLimits(int max_sessions, int max_sessions_per_address);

  // A held slot; destroying it (or Release) gives the slot back. Empty when none was granted.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void Release();

   private:
    friend class SessionLimiter;
    Slot(SessionLimiter* owner, std::string address) : owner_(owner), address_(std::move(address)) {}
    SessionLimiter* owner_ = nullptr;
    std::string address_;
  };

  // Takes a slot for a session to `address`, waiting in line (first come, first served among
  // waiters that the limits would let in) on the calling coroutine's executor. Returns an
  // empty Slot when `deadline` passes first. The limiter must outlive every Slot.
  asio::awaitable<Slot> Acquire(std::string address, std::chrono::steady_clock::time_point deadline);

  // For the engine's destructor, once its loops have stopped and before they are destroyed:
  // drops every waiter (their timers must not outlive their loops) and stops handing slots
  // over (a released slot must not post to a loop that is gone).
  void Close();

  int in_flight() const;
  size_t waiting() const;

 private:
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : executor(ex), timer(ex) {}
    std::string address;
    asio::any_io_executor executor;
    asio::steady_timer timer;  // only touched on `executor`'s thread
    bool woken = false;        // only touched on `executor`'s thread
    bool granted = false;      // guarded by mu_
  };

  bool HasRoomLocked(const std::string& address) const;
  void TakeLocked(const std::string& address);
  // Grants slots to waiters in order while the limits allow; returns whom to wake.
  std::list<std::shared_ptr<Waiter>> GrantLocked();
  static void Wake(const std::list<std::shared_ptr<Waiter>>& granted);
  void Give(const std::string& address);

  mutable std::mutex mu_;
  int max_sessions_;
  int max_per_address_;
  int in_flight_ = 0;
  bool closed_ = false;
  std::map<std::string, int> per_address_;  // addresses with sessions in flight only
  std::list<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace mxtls
