// DNS answers as plain values: a strict wire-format parser (RFC 1035) and the pure functions
// that turn one raw answer into the lookup results the resolver hands out (MX, A/AAAA, TXT,
// TLSA; PTR is in probes/judgement/reverse_dns.h).
// Nothing here touches a socket, so every rule below is table-tested on hand-built packets.
// The transport (c-ares driven by Asio) lives in probes/dns_resolver.h.
//
// Names returned by this file are in presentation form, lower-cased (ASCII), without the
// trailing dot; the root is "" (so a null MX target is ""). Label bytes that are not printable
// ASCII, and '.' and '\' inside a label, are escaped as "\DDD" / "\." / "\\" (RFC 4343).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mxtls {

// Record types and RCODEs used by the probes.
inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeNs = 2;
inline constexpr uint16_t kDnsTypeCname = 5;
inline constexpr uint16_t kDnsTypeSoa = 6;
inline constexpr uint16_t kDnsTypePtr = 12;
inline constexpr uint16_t kDnsTypeMx = 15;
inline constexpr uint16_t kDnsTypeTxt = 16;
inline constexpr uint16_t kDnsTypeAaaa = 28;
inline constexpr uint16_t kDnsTypeDname = 39;
inline constexpr uint16_t kDnsTypeOpt = 41;
inline constexpr uint16_t kDnsTypeTlsa = 52;
inline constexpr uint16_t kDnsClassIn = 1;

inline constexpr int kDnsRcodeNoError = 0;
inline constexpr int kDnsRcodeFormErr = 1;
inline constexpr int kDnsRcodeServFail = 2;
inline constexpr int kDnsRcodeNxDomain = 3;
inline constexpr int kDnsRcodeNotImp = 4;
inline constexpr int kDnsRcodeRefused = 5;

// "MX", "AAAA", ...; "TYPE65" for types without a name here (RFC 3597 style).
std::string DnsTypeName(uint16_t type);
// "NOERROR", "SERVFAIL", ...; "RCODE12" otherwise.
std::string DnsRcodeName(int rcode);

// Lower-cases ASCII and strips one trailing dot, so that a queried name compares equal to the
// names the parser returns ("Example.COM." -> "example.com", "." -> "").
std::string NormalizeQueryName(std::string_view name);

struct DnsHeader {
  uint16_t id = 0;
  bool qr = false;  // response
  int opcode = 0;
  bool aa = false;  // authoritative answer
  bool tc = false;  // truncated
  bool rd = false;  // recursion desired
  bool ra = false;  // recursion available
  bool ad = false;  // authentic data (DNSSEC-validated by the resolver)
  bool cd = false;  // checking disabled
  int rcode = 0;    // the 4 header bits; extended RCODEs from OPT are not merged
};

struct DnsQuestion {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = 0;
};

struct DnsRecord {
  std::string name;  // owner
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  // RDATA as on the wire. Names inside it may be compressed (pointers into the whole
  // message), so for the name-bearing types below use `target` instead.
  std::vector<uint8_t> rdata;
  // CNAME, DNAME, NS, PTR: the name in RDATA; MX: the exchange. Expanded and normalized.
  std::string target;
  uint16_t preference = 0;  // MX only
};

struct DnsMessage {
  DnsHeader header;
  std::vector<DnsQuestion> questions;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> authorities;
  std::vector<DnsRecord> additionals;
};

// Parses a whole message. Rejects, with reason "dns_error" and a message naming the problem:
// short headers, sections running past the end, names over 255 bytes, reserved label types
// (which every label length over 63 is), compression pointers that do not land strictly
// before the previous jump (which also rules out loops), and name-bearing RDATA (CNAME,
// DNAME, NS, PTR, MX) whose name does not fill RDATA exactly. Bytes after the last section
// are ignored.
Result<DnsMessage> ParseDnsMessage(std::span<const uint8_t> wire);

// The answer section read the way a stub resolver reads it: starting at `qname`, follow CNAMEs
// to the canonical name and collect the records of `qtype` owned by it (class IN only).
struct AnswerChain {
  std::string canonical_name;        // where the chain ends; the queried name when no CNAME
  std::vector<std::string> aliases;  // owners of the CNAMEs followed, starting with qname
  std::vector<DnsRecord> records;    // records of qtype at canonical_name, in answer order
};
// Fails ("dns_error") on a CNAME loop or a chain longer than 16 aliases. `qname` is compared
// after NormalizeQueryName. For qtype CNAME no alias is followed.
Result<AnswerChain> FollowAnswerChain(const DnsMessage& message, std::string_view qname,
                                      uint16_t qtype);

// ----------------------------------------------------------------------------------------
// Lookup results. Each carries a Status whose reason is one of these fixed words:
//   ""          ok: at least one record of the asked type
//   "nxdomain"  RCODE 3: the name does not exist
//   "nodata"    NOERROR, but no record of the asked type for the name (after CNAMEs)
//   "servfail"  RCODE 2
//   "refused"   RCODE 5
//   "timeout"   no answer before the lookup's deadline, or c-ares gave up retrying
//   "dns_error" anything else: other RCODEs (FORMERR, NOTIMP, ...), connection refused,
//               malformed answers, invalid query names, resolver shut down
// and a message for people. `rcode` is the answer's RCODE, -1 when no answer arrived.

// The raw answer of one query; the typed results are computed from it.
struct RawLookup {
  // Transport and RCODE only: "nodata" is never set here (it depends on reading the records).
  Status status;
  int rcode = -1;
  bool authentic_data = false;  // the AD bit: only meaningful from a validating resolver
  std::vector<uint8_t> answer;  // the whole response message; empty when none arrived
};

struct MxRecord {
  std::string host;  // normalized: lower case, no trailing dot
  int preference = 0;

  bool operator==(const MxRecord&) const = default;
};

struct MxLookup {
  Status status;
  // RFC 7505 null MX: the answer's only MX record has the root as exchange (the preference
  // is not checked: "." names no host whatever its preference). The domain accepts no mail;
  // `records` is empty and status is ok.
  bool null_mx = false;
  // A root exchange published next to other MX records (RFC 7505 §3 forbids it). The root
  // entries are dropped from `records`; the others stay usable, as a sending MTA would use them.
  bool null_mx_mixed = false;
  std::vector<MxRecord> records;  // sorted by preference, then host; duplicates removed
  int rcode = -1;
  bool authentic_data = false;  // the answer's AD bit (see RawLookup)
};

struct AddressLookup {
  Status status;
  std::vector<std::string> addresses;    // textual, deduplicated, in answer order
  std::string canonical_name;            // final name after CNAMEs (the queried name if none)
  std::vector<std::string> cname_chain;  // aliases followed, starting with the queried name
  bool is_cname = false;                 // the queried name is an alias
  int rcode = -1;
  bool authentic_data = false;  // the answer's AD bit (see RawLookup)
};

struct TxtLookup {
  Status status;
  // One entry per TXT record, in answer order, its character-strings concatenated
  // (RFC 7208 §3.3 / RFC 8461 §3.1: a long record is split into strings on the wire).
  // Raw bytes: not necessarily valid UTF-8.
  std::vector<std::string> records;
  int rcode = -1;
  bool authentic_data = false;  // the answer's AD bit (see RawLookup)
};

// TLSA (RFC 6698) for a "_25._tcp.<host>" name. The records are handed out as raw RDATA: the
// DANE judgement (probes/judgement/dane.h) reads usage, selector, matching type and data, and
// decides what a malformed record (RDATA under 3 bytes) means; nothing here rejects one.
struct TlsaLookup {
  Status status;
  // RDATA of each TLSA record at `canonical_name`, in answer order, as on the wire.
  std::vector<std::vector<uint8_t>> rdata;
  // RFC 7672 §2.2.2: when the TLSA name is an alias, the records found at its target count.
  std::string canonical_name;            // final name after CNAMEs (the queried name if none)
  std::vector<std::string> cname_chain;  // aliases followed, starting with the queried name
  bool is_cname = false;
  int rcode = -1;
  bool authentic_data = false;  // the answer's AD bit (see RawLookup)
};

// A PTR lookup (the reverse name is built by probes/judgement/reverse_dns.h). Status reasons as in dns_message.h ("nodata" when no PTR record).
struct PtrLookup {
  Status status;
  std::string query_name;          // the reverse name asked (empty when the address was invalid)
  std::vector<std::string> names;  // normalized PTR targets, deduplicated, in answer order
  int rcode = -1;
  bool authentic_data = false;
};

// Reads the PTR RRset for `qname`. CNAMEs are followed: RFC 2317 classless delegation points
// the in-addr.arpa name at a CNAME. A PTR RRset may hold several names; a root target is
// skipped.
PtrLookup InterpretPtrAnswer(std::string_view qname, const RawLookup& raw);

// Maps an RCODE to the status rules above ("nodata" excepted).
Status StatusForRcode(int rcode, std::string_view what);

// Interpreters: the typed result of a raw lookup for `qname`. When the raw status is not ok
// it is passed through (CNAME facts are still filled in when the answer can be read).
MxLookup InterpretMxAnswer(std::string_view qname, const RawLookup& raw);
// `qtype` is kDnsTypeA or kDnsTypeAaaa.
AddressLookup InterpretAddressAnswer(std::string_view qname, uint16_t qtype, const RawLookup& raw);
TxtLookup InterpretTxtAnswer(std::string_view qname, const RawLookup& raw);
TlsaLookup InterpretTlsaAnswer(std::string_view qname, const RawLookup& raw);

}  // namespace mxtls
