// The next layer under the STARTTLS handshake's asio::ssl::stream: the probe's TCP socket,
// borrowed, remembering the first bytes the server sends over it. The endpoint probe judges
// those bytes (StartsLikeTlsRecord) when a handshake fails, so that a server that answers
// STARTTLS with "220" and then something other than TLS gets the same verdict whether those
// bytes came in the 220's segment or in answer to the ClientHello.
#pragma once

#include <algorithm>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <string>
#include <utility>

namespace mxtls {

// Satisfies what asio::ssl::stream needs of its next layer (AsyncReadStream, AsyncWriteStream,
// lowest_layer). Borrows the socket and the destination string: both must outlive every
// operation started through it. Not thread-safe (like the socket).
class FirstBytesSocket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

  // Appends to `*first_bytes` what is read until it holds `keep` bytes.
  FirstBytesSocket(asio::ip::tcp::socket& socket, std::string* first_bytes, size_t keep)
      : socket_(&socket), first_bytes_(first_bytes), keep_(keep) {}

  executor_type get_executor() noexcept { return socket_->get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_->lowest_layer(); }
  const lowest_layer_type& lowest_layer() const { return socket_->lowest_layer(); }

  template <typename ConstBufferSequence, typename WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return socket_->async_write_some(buffers, std::forward<WriteToken>(token));
  }

  template <typename MutableBufferSequence, typename ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(asio::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& into) {
          // The recording step runs where the caller's handler would have run (the ssl
          // stream's operation names the coroutine's executor).
          auto executor = asio::get_associated_executor(handler, socket_->get_executor());
          socket_->async_read_some(
              into, asio::bind_executor(executor, Recorder<decltype(handler),
                                                           MutableBufferSequence>{
                                                      std::move(handler), into, this}));
        },
        token, buffers);
  }

 private:
  template <typename Handler, typename Buffers>
  struct Recorder {
    Handler handler;
    Buffers buffers;
    FirstBytesSocket* self;

    void operator()(const asio::error_code& ec, std::size_t n) {
      self->Record(buffers, n);
      std::move(handler)(ec, n);
    }
  };

  template <typename Buffers>
  void Record(const Buffers& buffers, size_t n) {
    if (first_bytes_->size() >= keep_ || n == 0) return;
    size_t take = std::min(keep_ - first_bytes_->size(), n);
    size_t old = first_bytes_->size();
    first_bytes_->resize(old + take);
    asio::buffer_copy(asio::buffer(first_bytes_->data() + old, take), buffers, take);
  }

  asio::ip::tcp::socket* socket_;
  std::string* first_bytes_;
  size_t keep_;
};

}  // namespace mxtls
