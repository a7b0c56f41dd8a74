#include "probes/judgement/dns_message.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

namespace mxtls {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWireLength = 255;
// Each jump must go strictly backwards, so a name can take at most ~255 jumps anyway; the
// limit only keeps the worst case small.
constexpr int kMaxPointerJumps = 64;
constexpr int kMaxCnameChain = 16;

constexpr std::string_view kMalformed = "malformed answer: ";

Status Malformed(const std::string& message) {
  return Status::Error("dns_error", std::string(kMalformed) + message);
}

uint16_t Read16(std::span<const uint8_t> wire, size_t at) {
  return static_cast<uint16_t>((wire[at] << 8) | wire[at + 1]);
}

uint32_t Read32(std::span<const uint8_t> wire, size_t at) {
  return (uint32_t{wire[at]} << 24) | (uint32_t{wire[at + 1]} << 16) |
         (uint32_t{wire[at + 2]} << 8) | uint32_t{wire[at + 3]};
}

void AppendLabel(std::span<const uint8_t> label, std::string* out) {
  if (!out->empty()) out->push_back('.');
  for (uint8_t c : label) {
    if (c >= 'A' && c <= 'Z') {
      out->push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == '.' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x21 || c > 0x7e) {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\%03u", static_cast<unsigned>(c));
      out->append(buf);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

// Reads the (possibly compressed) name at `*pos`. On success `*pos` is just past the name's
// bytes at its original location (after the first pointer, if any).
Status ReadName(std::span<const uint8_t> wire, size_t* pos, std::string* out) {
  out->clear();
  size_t at = *pos;
  size_t end_of_name = 0;   // set at the first jump
  size_t lowest_jump = at;  // every jump must land strictly before this
  size_t wire_length = 1;   // the root label
  int jumps = 0;
  for (;;) {
    if (at >= wire.size()) return Malformed("name runs past the end");
    uint8_t len = wire[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= wire.size()) return Malformed("name runs past the end");
      size_t target = static_cast<size_t>(((len & 0x3F) << 8) | wire[at + 1]);
      if (target >= lowest_jump) return Malformed("compression pointer does not point backwards");
      if (++jumps > kMaxPointerJumps) return Malformed("too many compression pointers");
      if (end_of_name == 0) end_of_name = at + 2;
      lowest_jump = target;
      at = target;
      continue;
    }
    // 0x40 and 0x80 are reserved label types; so every length over 63 lands here.
    if ((len & 0xC0) != 0) return Malformed("reserved label type");
    if (len == 0) {
      *pos = end_of_name != 0 ? end_of_name : at + 1;
      return Status();
    }
    if (at + 1 + len > wire.size()) return Malformed("name runs past the end");
    wire_length += 1 + len;
    if (wire_length > kMaxNameWireLength) return Malformed("name longer than 255 bytes");
    AppendLabel(wire.subspan(at + 1, len), out);
    at += 1 + len;
  }
}

bool HasNameRdata(uint16_t type) {
  return type == kDnsTypeCname || type == kDnsTypeDname || type == kDnsTypeNs ||
         type == kDnsTypePtr;
}

Status ReadRecord(std::span<const uint8_t> wire, size_t* pos, DnsRecord* rr) {
  Status s = ReadName(wire, pos, &rr->name);
  if (!s.ok()) return s;
  if (*pos + 10 > wire.size()) return Malformed("record header runs past the end");
  rr->type = Read16(wire, *pos);
  rr->klass = Read16(wire, *pos + 2);
  rr->ttl = Read32(wire, *pos + 4);
  size_t rdlength = Read16(wire, *pos + 8);
  size_t rdata_at = *pos + 10;
  if (rdata_at + rdlength > wire.size()) return Malformed("RDATA runs past the end");
  rr->rdata.assign(wire.begin() + rdata_at, wire.begin() + rdata_at + rdlength);
  *pos = rdata_at + rdlength;

  // Names inside RDATA may point anywhere earlier in the message, so they are expanded here,
  // where the whole message is at hand.
  size_t name_at = rdata_at;
  if (rr->type == kDnsTypeMx) {
    if (rdlength < 3) return Malformed("MX RDATA too short");
    rr->preference = Read16(wire, rdata_at);
    name_at += 2;
  } else if (!HasNameRdata(rr->type)) {
    return Status();
  }
  s = ReadName(wire, &name_at, &rr->target);
  if (!s.ok()) return s;
  if (name_at != rdata_at + rdlength) {
    return Malformed(DnsTypeName(rr->type) + " RDATA length does not match its name");
  }
  return Status();
}

Status ReadSection(std::span<const uint8_t> wire, size_t* pos, int count, const char* section,
                   std::vector<DnsRecord>* out) {
  // No reserve(count): the count comes from the wire.
  for (int i = 0; i < count; ++i) {
    DnsRecord rr;
    Status s = ReadRecord(wire, pos, &rr);
    if (!s.ok()) {
      return Malformed(std::string(section) + " record " + std::to_string(i) + ": " +
                       s.message().substr(kMalformed.size()));
    }
    out->push_back(std::move(rr));
  }
  return Status();
}

// Reads the answer for the typed interpreters: the parsed message and its CNAME chain, or a
// status explaining why the answer cannot be read.
struct ReadAnswer {
  Status status;
  AnswerChain chain;
};

ReadAnswer ReadChain(std::string_view qname, uint16_t qtype, const RawLookup& raw) {
  ReadAnswer out;
  if (raw.answer.empty()) {
    out.status = Status::Error("dns_error", "no answer");
    return out;
  }
  Result<DnsMessage> message = ParseDnsMessage(raw.answer);
  if (!message.ok()) {
    out.status = message.status();
    return out;
  }
  Result<AnswerChain> chain = FollowAnswerChain(*message, qname, qtype);
  if (!chain.ok()) {
    out.status = chain.status();
    return out;
  }
  out.chain = std::move(chain).value();
  return out;
}

Status NoData(std::string_view qname, uint16_t qtype, const AnswerChain& chain) {
  std::string message = std::string(qname) + " " + DnsTypeName(qtype) + ": no records (NODATA)";
  if (!chain.aliases.empty()) message += " at canonical name " + chain.canonical_name;
  return Status::Error("nodata", message);
}

// What every interpreter does first: copy RCODE, AD and the transport status into `out`, then
// read the answer chain for (qname, qtype). nullopt when there is nothing to read (the
// transport failed without an answer) or the answer cannot be read (then out.status says why,
// unless the transport status already failed). A chain read from an answer whose RCODE failed
// (NXDOMAIN after a CNAME) is returned too: callers keep its CNAME facts and stop there.
template <typename Lookup>
std::optional<AnswerChain> BeginInterpret(Lookup& out, std::string_view qname, uint16_t qtype,
                                          const RawLookup& raw) {
  out.rcode = raw.rcode;
  out.authentic_data = raw.authentic_data;
  out.status = raw.status;
  if (!raw.status.ok() && raw.answer.empty()) return std::nullopt;
  ReadAnswer read = ReadChain(qname, qtype, raw);
  if (!read.status.ok()) {
    if (raw.status.ok()) out.status = read.status;
    return std::nullopt;
  }
  return std::move(read.chain);
}

}  // namespace

std::string DnsTypeName(uint16_t type) {
  switch (type) {
    case kDnsTypeA:
      return "A";
    case kDnsTypeNs:
      return "NS";
    case kDnsTypeCname:
      return "CNAME";
    case kDnsTypeSoa:
      return "SOA";
    case kDnsTypePtr:
      return "PTR";
    case kDnsTypeMx:
      return "MX";
    case kDnsTypeTxt:
      return "TXT";
    case kDnsTypeAaaa:
      return "AAAA";
    case kDnsTypeDname:
      return "DNAME";
    case kDnsTypeOpt:
      return "OPT";
    case kDnsTypeTlsa:
      return "TLSA";
    default:
      return "TYPE" + std::to_string(type);
  }
}

std::string DnsRcodeName(int rcode) {
  switch (rcode) {
    case kDnsRcodeNoError:
      return "NOERROR";
    case kDnsRcodeFormErr:
      return "FORMERR";
    case kDnsRcodeServFail:
      return "SERVFAIL";
    case kDnsRcodeNxDomain:
      return "NXDOMAIN";
    case kDnsRcodeNotImp:
      return "NOTIMP";
    case kDnsRcodeRefused:
      return "REFUSED";
    default:
      return "RCODE" + std::to_string(rcode);
  }
}

std::string NormalizeQueryName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    // A trailing "\." is an escaped dot inside the last label, not the root.
    size_t backslashes = 0;
    for (size_t i = name.size() - 1; i > 0 && name[i - 1] == '\\'; --i) ++backslashes;
    if (backslashes % 2 == 0) name.remove_suffix(1);
  }
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<DnsMessage> ParseDnsMessage(std::span<const uint8_t> wire) {
  if (wire.size() < kHeaderSize) {
    return Malformed("message of " + std::to_string(wire.size()) +
                     " bytes is shorter than a header");
  }
  DnsMessage m;
  m.header.id = Read16(wire, 0);
  uint8_t b2 = wire[2], b3 = wire[3];
  m.header.qr = b2 & 0x80;
  m.header.opcode = (b2 >> 3) & 0x0F;
  m.header.aa = b2 & 0x04;
  m.header.tc = b2 & 0x02;
  m.header.rd = b2 & 0x01;
  m.header.ra = b3 & 0x80;
  m.header.ad = b3 & 0x20;
  m.header.cd = b3 & 0x10;
  m.header.rcode = b3 & 0x0F;
  int qdcount = Read16(wire, 4), ancount = Read16(wire, 6);
  int nscount = Read16(wire, 8), arcount = Read16(wire, 10);

  size_t pos = kHeaderSize;
  for (int i = 0; i < qdcount; ++i) {
    DnsQuestion q;
    Status s = ReadName(wire, &pos, &q.name);
    if (!s.ok()) return s;
    if (pos + 4 > wire.size()) return Malformed("question runs past the end");
    q.type = Read16(wire, pos);
    q.klass = Read16(wire, pos + 2);
    pos += 4;
    m.questions.push_back(std::move(q));
  }
  Status s = ReadSection(wire, &pos, ancount, "answer", &m.answers);
  if (s.ok()) s = ReadSection(wire, &pos, nscount, "authority", &m.authorities);
  if (s.ok()) s = ReadSection(wire, &pos, arcount, "additional", &m.additionals);
  if (!s.ok()) return s;
  return m;
}

Result<AnswerChain> FollowAnswerChain(const DnsMessage& message, std::string_view qname,
                                      uint16_t qtype) {
  AnswerChain chain;
  chain.canonical_name = NormalizeQueryName(qname);
  std::set<std::string> seen{chain.canonical_name};
  for (;;) {
    const DnsRecord* cname = nullptr;
    for (const DnsRecord& rr : message.answers) {
      if (rr.klass != kDnsClassIn || rr.name != chain.canonical_name) continue;
      if (rr.type == qtype) {
        chain.records.push_back(rr);
      } else if (rr.type == kDnsTypeCname && cname == nullptr) {
        cname = &rr;
      }
    }
    // Records of the asked type win over a (conflicting) CNAME at the same name.
    if (!chain.records.empty() || cname == nullptr || qtype == kDnsTypeCname) return chain;
    if (chain.aliases.size() >= kMaxCnameChain) {
      return Status::Error("dns_error", "CNAME chain from " + std::string(qname) + " longer than " +
                                            std::to_string(kMaxCnameChain));
    }
    chain.aliases.push_back(chain.canonical_name);
    chain.canonical_name = cname->target;
    if (!seen.insert(chain.canonical_name).second) {
      return Status::Error("dns_error", "CNAME loop at " + chain.canonical_name);
    }
  }
}

Status StatusForRcode(int rcode, std::string_view what) {
  std::string message = std::string(what) + ": " + DnsRcodeName(rcode);
  switch (rcode) {
    case kDnsRcodeNoError:
      return Status();
    case kDnsRcodeNxDomain:
      return Status::Error("nxdomain", message);
    case kDnsRcodeServFail:
      return Status::Error("servfail", message);
    case kDnsRcodeRefused:
      return Status::Error("refused", message);
    default:
      return Status::Error("dns_error", message);
  }
}

MxLookup InterpretMxAnswer(std::string_view qname, const RawLookup& raw) {
  MxLookup out;
  std::optional<AnswerChain> chain = BeginInterpret(out, qname, kDnsTypeMx, raw);
  if (!chain || !raw.status.ok()) return out;
  const std::vector<DnsRecord>& rrs = chain->records;
  if (rrs.empty()) {
    out.status = NoData(qname, kDnsTypeMx, *chain);
    return out;
  }
  size_t roots =
      std::count_if(rrs.begin(), rrs.end(), [](const DnsRecord& rr) { return rr.target.empty(); });
  // RFC 7505 wants exactly one "0 ." record; several records that all point to the root
  // say the same thing (no mail) and are reported as a null MX too, never as "no address".
  if (roots == rrs.size()) {
    out.null_mx = true;
    return out;
  }
  out.null_mx_mixed = roots > 0;
  for (const DnsRecord& rr : rrs) {
    if (!rr.target.empty()) out.records.push_back({rr.target, rr.preference});
  }
  std::sort(out.records.begin(), out.records.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference != b.preference ? a.preference < b.preference : a.host < b.host;
  });
  out.records.erase(std::unique(out.records.begin(), out.records.end()), out.records.end());
  return out;
}

AddressLookup InterpretAddressAnswer(std::string_view qname, uint16_t qtype, const RawLookup& raw) {
  AddressLookup out;
  std::optional<AnswerChain> chain = BeginInterpret(out, qname, qtype, raw);
  if (!chain) return out;
  out.canonical_name = chain->canonical_name;
  out.cname_chain = chain->aliases;
  out.is_cname = !out.cname_chain.empty();
  if (!raw.status.ok()) return out;

  const size_t size = qtype == kDnsTypeAaaa ? 16 : 4;
  const int family = qtype == kDnsTypeAaaa ? AF_INET6 : AF_INET;
  for (const DnsRecord& rr : chain->records) {
    if (rr.rdata.size() != size) {
      out.addresses.clear();
      out.status = Malformed(DnsTypeName(qtype) + " record for " + rr.name + " has " +
                             std::to_string(rr.rdata.size()) + " bytes of RDATA");
      return out;
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, rr.rdata.data(), text, sizeof(text)) == nullptr) continue;
    if (std::find(out.addresses.begin(), out.addresses.end(), text) == out.addresses.end()) {
      out.addresses.push_back(text);
    }
  }
  if (out.addresses.empty()) out.status = NoData(qname, qtype, *chain);
  return out;
}

TxtLookup InterpretTxtAnswer(std::string_view qname, const RawLookup& raw) {
  TxtLookup out;
  std::optional<AnswerChain> chain = BeginInterpret(out, qname, kDnsTypeTxt, raw);
  if (!chain || !raw.status.ok()) return out;
  for (const DnsRecord& rr : chain->records) {
    std::string joined;
    size_t at = 0;
    while (at < rr.rdata.size()) {
      size_t len = rr.rdata[at];
      if (at + 1 + len > rr.rdata.size()) {
        out.records.clear();
        out.status = Malformed("TXT record for " + rr.name + ": character-string runs past RDATA");
        return out;
      }
      joined.append(reinterpret_cast<const char*>(rr.rdata.data()) + at + 1, len);
      at += 1 + len;
    }
    // An empty RDATA is not valid TXT (one string at least); it is read as "" rather than
    // failing the whole lookup, the way common resolvers present it.
    out.records.push_back(std::move(joined));
  }
  if (out.records.empty()) out.status = NoData(qname, kDnsTypeTxt, *chain);
  return out;
}

TlsaLookup InterpretTlsaAnswer(std::string_view qname, const RawLookup& raw) {
  TlsaLookup out;
  std::optional<AnswerChain> chain = BeginInterpret(out, qname, kDnsTypeTlsa, raw);
  if (!chain) return out;
  // The CNAME facts are kept for NXDOMAIN and NODATA too: RFC 7672 §2.2.2 looks at the
  // alias's target.
  out.canonical_name = chain->canonical_name;
  out.cname_chain = chain->aliases;
  out.is_cname = !out.cname_chain.empty();
  if (!raw.status.ok()) return out;
  for (const DnsRecord& rr : chain->records) out.rdata.push_back(rr.rdata);
  if (out.rdata.empty()) out.status = NoData(qname, kDnsTypeTlsa, *chain);
  return out;
}

PtrLookup InterpretPtrAnswer(std::string_view qname, const RawLookup& raw) {
  PtrLookup out;
  out.query_name = NormalizeQueryName(qname);
  std::optional<AnswerChain> chain = BeginInterpret(out, qname, kDnsTypePtr, raw);
  if (!chain || !raw.status.ok()) return out;
  for (const DnsRecord& rr : chain->records) {
    // A PTR to the root names no host; keep the others rather than failing the lookup.
    if (rr.target.empty()) continue;
    if (std::find(out.names.begin(), out.names.end(), rr.target) == out.names.end()) {
      out.names.push_back(rr.target);
    }
  }
  if (out.names.empty()) out.status = NoData(qname, kDnsTypePtr, *chain);
  return out;
}

}  // namespace mxtls
