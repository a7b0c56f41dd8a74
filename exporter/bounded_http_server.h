// The HTTP/1.1 server of the exporter's own endpoints: cpp-httplib's listener (bind, accept,
// the elastic task queue, stop) with our own connection handling in front of any handler.
//
// Why not cpp-httplib's request reader: in 0.11.4 the request line and the header lines are
// read into strings without any limit, there is no limit on the number of headers, and its
// read timeout is per recv(), so a client sending one byte every few seconds holds a thread
// for ever (see README, "Web security"). Debian 12 has no other maintained C++ HTTP server
// library (civetweb is in the archive but would be a second HTTP stack and still needs TLS
// reloading done outside it), and our routes take no bodies, so the part we need is small: a
// request head read under a byte budget and a deadline, parsed strictly. cpp-httplib still
// accepts connections and feeds them to threads, and its Request/Response types carry the
// request to the unchanged route handlers.
//
// Per connection (a thread of the task queue while a request is read or served):
//   - TLS handshake (when the web config has TLS) within `head_timeout`; client_allowed_sans
//     checked after it;
//   - the first head must be complete within `head_timeout` after the handshake, a later one
//     within `head_timeout` of its first byte, else 408 and the connection is closed;
//   - between requests a keep-alive connection holds no thread: after `linger_before_park`
//     without a next request it waits in the Parker (one epoll thread) for up to
//     `idle_timeout`, and goes back to a handler thread when readable;
//   - request line over `max_request_line` bytes -> 414; more than `max_headers` header lines
//     or more than `max_header_bytes` of them -> 431; a body (Content-Length other than 0, or
//     any Transfer-Encoding) -> 413 and Content-Encoding -> 415; every one of these closes
//     the connection, so unread bytes are never parsed as a next request;
//   - basic auth (401 with WWW-Authenticate) before routing, on every path;
//   - at most `max_requests_per_connection` requests, then Connection: close.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "exporter/web_security.h"

namespace mxtls {

struct HttpLimits {
  size_t max_request_line = 8192;
  size_t max_headers = 100;
  size_t max_header_bytes = 16384;
  std::chrono::milliseconds head_timeout{5000};
  // Keep-alive connections wait for their next request this long, without a thread.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};
  size_t max_idle_connections = 4096;
  // How long a thread waits for the next request itself before parking the connection.
  std::chrono::milliseconds linger_before_park{20};
  std::chrono::milliseconds write_timeout{10000};
  size_t max_requests_per_connection = 1000;
};

class BoundedHttpServer : public httplib::Server {
 public:
  using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;
  using Logger = std::function<void(const httplib::Request&, const httplib::Response&)>;

  // `web` outlives the server.
  BoundedHttpServer(WebSecurity* web, HttpLimits limits);

  // Routes are matched in the order added; `path_pattern` must match the whole decoded path.
  // A GET route also serves HEAD. Not thread-safe: add every route before listening.
  void Route(const std::string& method, const std::string& path_pattern, RouteHandler handler);
  // A route that takes a request body (the TLS-RPT receiver's POST). `admit` sees the head
  // first: it either answers (returns false with `res` filled; the body is never read and the
  // connection closes) or admits the body (returns true). An admitted body must come with a
  // Content-Length of at most `max_body_bytes` (else 413; chunked ones that `admit` let through
  // get 411) and arrive
  // within `body_timeout` (else 408); then authentication and `handler` run with req.body set.
  using Admission = std::function<bool(const httplib::Request&, httplib::Response&)>;
  void RouteWithBody(const std::string& method, const std::string& path_pattern,
                     size_t max_body_bytes, std::chrono::milliseconds body_timeout,
                     Admission admit, RouteHandler handler);
  void SetRequestLogger(Logger logger) { logger_ = std::move(logger); }

  ~BoundedHttpServer() override;

  // Makes open connections finish their current request and close, so that stop() (which
  // joins the connection threads) returns within a fraction of a second.
  void BeginStop();

  // Keep-alive connections waiting for their next request.
  size_t parked_connections() const;

  // When the request a route handler is serving arrived: for the first request on a
  // connection (or the first after it waited in the parker), when the connection was handed to
  // the task queue, so the time it waited for a free thread is included; for a later request
  // on the same thread, when its first byte was read. /probe starts its scrape's deadline
  // here. Valid only inside a route handler, on the thread that runs it.
  static std::chrono::steady_clock::time_point RequestArrival();

 private:
  class Connection;
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    RouteHandler handler;
    // Only for RouteWithBody:
    bool takes_body = false;
    size_t max_body_bytes = 0;
    std::chrono::milliseconds body_timeout{0};
    Admission admit;
  };
  // The body route `req` is for, or null.
  const RouteEntry* BodyRoute(const httplib::Request& req) const;
  // Reads the admitted body of `req` into req.body; 0, or the status to answer with.
  int ReadBody(const RouteEntry& route, Connection& conn, std::string& buf,
               httplib::Request& req);
  struct Session;
  class Parker;

  bool process_and_close_socket(socket_t sock) override;
  // Serves requests on `s` until it closes or waits for its next request in the parker.
  void Serve(std::shared_ptr<Session> s, bool resumed);
  // A parked connection became readable: serve it on a thread of resume_queue_.
  void Resume(std::shared_ptr<Session> s);
  void Dispatch(httplib::Request& req, httplib::Response& res, bool body_admitted = false);

  WebSecurity* web_;
  HttpLimits limits_;
  std::vector<RouteEntry> routes_;
  Logger logger_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Parker> parker_;
  std::once_flag resume_queue_once_;
  std::unique_ptr<httplib::TaskQueue> resume_queue_;
};

// Percent-decoding of a URL path or query component ('+' is a space only in a query).
// False on a malformed escape.
bool PercentDecode(const std::string& in, bool plus_is_space, std::string* out);

}  // namespace mxtls
