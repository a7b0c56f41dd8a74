#include "tests/support/tlsrpt_fixtures.h"

#include <zlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mxtls::testing {

std::string Gzip(std::string_view data, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

std::string TlsRptTestdata(const std::string& name) {
  std::ifstream in(std::string(MXTLS_TESTDATA_DIR) + "/tlsrpt/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing testdata tlsrpt/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string SimpleTlsRptReport(const std::string& organization, const std::string& report_id,
                               const std::string& domain, uint64_t successful,
                               uint64_t summary_failed, const std::string& result_type,
                               const std::string& mx, uint64_t failed) {
  return "{\"organization-name\":\"" + organization +
         "\",\"date-range\":{\"start-datetime\":\"2026-11-30T00:00:00Z\",\"end-datetime\":"
         "\"2026-11-30T23:59:59Z\"},\"contact-info\":\"reports@" + organization +
         ".test\",\"report-id\":\"" + report_id +
         "\",\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"version: "
         "STSv1\",\"mode: testing\",\"mx: " + mx + "\",\"max_age: 86400\"],\"policy-domain\":\"" +
         domain + "\",\"mx-host\":[\"" + mx +
         "\"]},\"summary\":{\"total-successful-session-count\":" + std::to_string(successful) +
         ",\"total-failure-session-count\":" + std::to_string(summary_failed) +
         "},\"failure-details\":[{\"result-type\":\"" + result_type +
         "\",\"sending-mta-ip\":\"192.0.2.1\",\"receiving-mx-hostname\":\"" + mx +
         "\",\"failed-session-count\":" + std::to_string(failed) + "}]}]}";
}

std::string Base64(std::string_view data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string TlsRptMailMessage(const std::string& report_json, const std::string& domain) {
  std::string b64 = Base64(Gzip(report_json));
  std::string wrapped;
  for (size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\r\n";
  return "Return-Path: <noreply-smtp-tls-reporting@reports.reporter-g.example>\r\n"
         "From: noreply-smtp-tls-reporting@reports.reporter-g.example\r\n"
         "To: tlsrpt@" + domain + "\r\n"
         "Subject: Report Domain: " + domain + "\r\n"
         " Submitter: reports.reporter-g.example Report-ID: <2026.11.30T00.00.00Z+" + domain + "@reports.reporter-g.example>\r\n"
         "TLS-Report-Domain: " + domain + "\r\n"
         "TLS-Report-Submitter: reports.reporter-g.example\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/report; boundary=\"000000000000a1b2c3d4e5f6\";\r\n"
         "\treport-type=tlsrpt\r\n"
         "\r\n"
         "--000000000000a1b2c3d4e5f6\r\n"
         "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
         "\r\n"
         "This is an aggregate TLS report from reports.reporter-g.example\r\n"
         "\r\n"
         "--000000000000a1b2c3d4e5f6\r\n"
         "Content-Type: application/tlsrpt+gzip; \r\n"
         "\tname=\"reports.reporter-g.example!" + domain + "!1796083200!1796169599!001.json.gz\"\r\n"
         "Content-Disposition: attachment; \r\n"
         "\tfilename=\"reports.reporter-g.example!" + domain + "!1796083200!1796169599!001.json.gz\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "\r\n" + wrapped +
         "--000000000000a1b2c3d4e5f6--\r\n";
}

}  // namespace mxtls::testing
