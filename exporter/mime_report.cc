#include "exporter/mime_report.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace mxtls {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct ContentType {
  std::string type = "text/plain";  // RFC 2045 §5.2 default
  std::map<std::string, std::string> params;
};

// "multipart/report; report-type=tlsrpt; boundary=\"x\"" -> type and parameters.
ContentType ParseContentType(std::string_view value) {
  ContentType ct;
  size_t semi = value.find(';');
  ct.type = Lower(Trim(value.substr(0, semi)));
  while (semi != std::string_view::npos) {
    std::string_view rest = value.substr(semi + 1);
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key = Lower(Trim(rest.substr(0, eq)));
    std::string_view v = rest.substr(eq + 1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    std::string val;
    if (!v.empty() && v.front() == '"') {
      size_t i = 1;
      for (; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        val.push_back(v[i]);
      }
      v = v.substr(std::min(i + 1, v.size()));
      semi = v.find(';');
      value = v;
    } else {
      semi = v.find(';');
      val = std::string(Trim(v.substr(0, semi)));
      value = v;
    }
    ct.params[key] = val;
  }
  return ct;
}

struct Entity {
  std::map<std::string, std::string> headers;  // lower-case names; the last one wins
  std::string_view body;
};

// Splits headers from body at the first empty line and unfolds continuation lines.
bool SplitEntity(std::string_view text, Entity* e) {
  size_t pos = 0;
  std::string name, value;
  auto flush = [&] {
    if (!name.empty()) e->headers[Lower(name)] = std::string(Trim(value));
    name.clear();
    value.clear();
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return false;  // no empty line: no body
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (line.empty()) {
      flush();
      e->body = text.substr(pos);
      return true;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (name.empty()) return false;
      value += ' ';
      value += Trim(line);
      continue;
    }
    flush();
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    name = std::string(Trim(line.substr(0, colon)));
    value = std::string(line.substr(colon + 1));
  }
  // A message that ends right after its headers has an empty body.
  flush();
  e->body = {};
  return true;
}

bool DecodeQuotedPrintable(std::string_view text, size_t max_bytes, std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      if (i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r')) {
        i += text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n' ? 2 : 1;
        continue;  // soft line break
      }
      if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
        return false;
      }
      out->push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out->push_back(c);
    }
    if (out->size() > max_bytes) return false;
  }
  return true;
}

struct Walk {
  size_t max_bytes = 0;
  int parts = 0;
  Status error;  // the first decoding problem, reported when no report part is found
};

bool IsReportType(const std::string& type, bool* gzip) {
  if (type == "application/tlsrpt+gzip" || type == "application/gzip" ||
      type == "application/x-gzip") {
    *gzip = true;
    return true;
  }
  if (type == "application/tlsrpt+json" || type == "application/json") {
    *gzip = false;
    return true;
  }
  return false;
}

bool FindReport(std::string_view text, int depth, Walk* w, MimeReportPart* out) {
  if (++w->parts > kMimeMaxParts) {
    w->error = Status::Error("bad_mime", "more than " + std::to_string(kMimeMaxParts) + " parts");
    return false;
  }
  Entity e;
  if (!SplitEntity(text, &e)) {
    w->error = Status::Error("bad_mime", "malformed header section");
    return false;
  }
  ContentType ct;
  if (auto it = e.headers.find("content-type"); it != e.headers.end()) {
    ct = ParseContentType(it->second);
  }
  if (ct.type.rfind("multipart/", 0) == 0) {
    if (depth >= kMimeMaxDepth) {
      w->error = Status::Error("bad_mime", "multiparts nested too deep");
      return false;
    }
    auto b = ct.params.find("boundary");
    if (b == ct.params.end() || b->second.empty() || b->second.size() > 70) {
      w->error = Status::Error("bad_mime", "multipart without a valid boundary");
      return false;
    }
    const std::string delim = "--" + b->second;
    std::string_view body = e.body;
    // Delimiters are whole lines starting with "--boundary" (RFC 2046 §5.1.1).
    auto find_delim = [&](size_t from) -> size_t {
      for (size_t p = body.find(delim, from); p != std::string_view::npos;
           p = body.find(delim, p + 1)) {
        if (p == 0 || body[p - 1] == '\n') return p;
      }
      return std::string_view::npos;
    };
    size_t d = find_delim(0);
    while (d != std::string_view::npos) {
      size_t after = d + delim.size();
      if (body.substr(after, 2) == "--") return false;  // close delimiter
      size_t eol = body.find('\n', after);
      if (eol == std::string_view::npos) break;
      size_t start = eol + 1;
      size_t next = find_delim(start);
      if (next == std::string_view::npos) {
        w->error = Status::Error("bad_mime", "multipart without its closing boundary");
        return false;
      }
      size_t end = next;
      if (end > start && body[end - 1] == '\n') --end;  // the line break before a delimiter
      if (end > start && body[end - 1] == '\r') --end;  // belongs to the delimiter
      if (FindReport(body.substr(start, end - start), depth + 1, w, out)) return true;
      d = next;
    }
    return false;
  }
  bool gzip = false;
  if (!IsReportType(ct.type, &gzip)) return false;
  std::string cte;
  if (auto it = e.headers.find("content-transfer-encoding"); it != e.headers.end()) {
    cte = Lower(it->second);
  }
  std::string decoded;
  bool ok = true;
  if (cte == "base64") {
    ok = DecodeBase64(e.body, w->max_bytes, &decoded);
  } else if (cte == "quoted-printable") {
    ok = DecodeQuotedPrintable(e.body, w->max_bytes, &decoded);
  } else if (cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary") {
    decoded = std::string(e.body);
  } else {
    w->error = Status::Error("bad_mime", "unknown Content-Transfer-Encoding \"" + cte + "\"");
    return false;
  }
  if (decoded.size() > w->max_bytes) {
    w->error = Status::Error("too_large", "report part larger than " +
                                              std::to_string(w->max_bytes) + " bytes");
    return false;
  }
  if (!ok) {
    w->error = Status::Error("bad_mime", "cannot decode the " + ct.type + " part (" + cte + ")");
    return false;
  }
  out->body = std::move(decoded);
  out->gzip = gzip;
  return true;
}

}  // namespace

bool DecodeBase64(std::string_view text, size_t max_bytes, std::string* out) {
  uint32_t acc = 0;
  int bits = 0;
  int pad = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') {
      ++pad;
      if (pad > 2) return false;
      continue;
    } else if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
      continue;
    } else {
      return false;
    }
    if (pad > 0) return false;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
      if (out->size() > max_bytes) return false;
    }
  }
  // Leftover bits must be the zero fill of a final partial group.
  return bits < 6 && (acc & ((1u << bits) - 1)) == 0;
}

Result<MimeReportPart> ExtractTlsRptPart(std::string_view message, size_t max_bytes) {
  Walk w;
  w.max_bytes = max_bytes;
  MimeReportPart part;
  if (FindReport(message, 0, &w, &part)) return part;
  if (!w.error.ok()) return w.error;
  return Status::Error("bad_mime", "no application/tlsrpt+gzip or +json part");
}

}  // namespace mxtls
