// The report part of a TLS-RPT mail message (exporter/mime_report.h).
#include <catch2/catch.hpp>

#include "exporter/mime_report.h"
#include "exporter/tlsrpt_report.h"
#include "tests/support/tlsrpt_fixtures.h"

namespace mxtls {
namespace {

using testing::Base64;
using testing::Gzip;

TEST_CASE("mime: the gzip attachment of a multipart/report message", "[tlsrpt][mime]") {
  const std::string report = testing::TlsRptTestdata("google_shaped.json");
  Result<MimeReportPart> part =
      ExtractTlsRptPart(testing::TlsRptMailMessage(report, "example.org"), 1 << 20);
  REQUIRE(part.ok());
  CHECK(part->gzip);
  Result<std::string> plain = GunzipBounded(part->body, 1 << 20);
  REQUIRE(plain.ok());
  CHECK(plain.value() == report);
}

TEST_CASE("mime: a JSON part, LF line ends, nested multipart, quoted-printable",
          "[tlsrpt][mime]") {
  const std::string msg =
      "From: reporter@x.test\n"
      "Content-Type: multipart/mixed; boundary=outer\n"
      "\n"
      "preamble\n"
      "--outer\n"
      "Content-Type: multipart/report; report-type=tlsrpt; boundary=\"in ner\"\n"
      "\n"
      "--in ner\n"
      "Content-Type: text/plain\n"
      "\n"
      "hello\n"
      "--in ner\n"
      "Content-Type: application/tlsrpt+json\n"
      "Content-Transfer-Encoding: quoted-printable\n"
      "\n"
      "{\"a\":=\n"
      "\"b=3Dc\"}\n"
      "--in ner--\n"
      "--outer--\n";
  Result<MimeReportPart> part = ExtractTlsRptPart(msg, 1 << 20);
  REQUIRE(part.ok());
  CHECK_FALSE(part->gzip);
  CHECK(part->body == "{\"a\":\"b=c\"}");
}

TEST_CASE("mime: refusals", "[tlsrpt][mime]") {
  CHECK(ExtractTlsRptPart("Subject: hi\r\n\r\nno report here\r\n", 1 << 20).status().reason() ==
        "bad_mime");
  CHECK(ExtractTlsRptPart("no header section", 1 << 20).status().reason() == "bad_mime");
  const std::string bad_base64 =
      "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "H4sI*AAA\r\n";
  CHECK(ExtractTlsRptPart(bad_base64, 1 << 20).status().reason() == "bad_mime");
  const std::string unclosed =
      "Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: "
      "application/tlsrpt+json\r\n\r\n{}\r\n";
  CHECK(ExtractTlsRptPart(unclosed, 1 << 20).status().reason() == "bad_mime");
  const std::string big = "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: "
                          "base64\r\n\r\n" + Base64(std::string(4000, 'x')) + "\r\n";
  CHECK(ExtractTlsRptPart(big, 1000).status().reason() == "too_large");
  // Nested deeper than the bound.
  std::string deep = "Content-Type: application/tlsrpt+json\r\n\r\n{}\r\n";
  for (int i = 0; i < kMimeMaxDepth + 1; ++i) {
    std::string b = "b" + std::to_string(i);
    deep = "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n" + deep +
           "\r\n--" + b + "--\r\n";
  }
  CHECK(ExtractTlsRptPart(deep, 1 << 20).status().message() == "multiparts nested too deep");
}

TEST_CASE("mime: strict base64", "[tlsrpt][mime]") {
  std::string out;
  CHECK(DecodeBase64("aGVs\r\nbG8=", 100, &out));
  CHECK(out == "hello");
  out.clear();
  CHECK_FALSE(DecodeBase64("aGVsbG8=x", 100, &out));  // data after padding
  out.clear();
  CHECK_FALSE(DecodeBase64("aGVsbG8", 3, &out));  // over the bound
  out.clear();
  CHECK(DecodeBase64(Base64(Gzip("abc")), 100, &out));
  CHECK(GunzipBounded(out, 100).value() == "abc");
}

}  // namespace
}  // namespace mxtls
