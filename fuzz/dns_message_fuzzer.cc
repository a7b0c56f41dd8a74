// Fuzz target: the DNS wire-format parser and the interpreters that turn one raw answer into
// MX, A/AAAA, TXT, TLSA and PTR results (probes/judgement/dns_message.h, reverse_dns.h), and the
// TLSA RDATA parser of probes/judgement/dane.h. The input is one DNS message, as c-ares
// would hand it to the resolver's callback.
//
// Checks beyond "no crash":
//   - parsed names are in the promised presentation form: printable ASCII without spaces, no
//     upper-case letters, and NormalizeQueryName leaves them unchanged (escaped dots and
//     backslashes survive it);
//   - MX/CNAME/... records hold the name that fills their RDATA; an MX has >= 3 bytes;
//   - FollowAnswerChain stays within 16 aliases and returns only records of the asked type
//     owned by the canonical name;
//   - the interpreters report only the documented reason words, sorted unique MX hosts
//     without the root, null MX only alone, addresses that parse back, and printable
//     messages; a failed transport status is passed through;
//   - every TLSA RDATA either parses (data = RDATA minus 3 bytes; usable records well-formed;
//     printable descriptions) or is "malformed"; PTR names are in presentation form.
#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "probes/judgement/dane.h"
#include "probes/judgement/dns_message.h"
#include "probes/judgement/reverse_dns.h"

namespace {

using mxtls::DnsMessage;
using mxtls::DnsRecord;
using mxtls::RawLookup;
using mxtls::Status;
using mxtls_fuzz::IsPrintableAscii;

void CheckName(const std::string& name) {
  FUZZ_CHECK(name.size() <= 4 * 255);
  for (char c : name) {
    FUZZ_CHECK(c > 0x20 && c < 0x7f);
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }
  FUZZ_CHECK(name.empty() || name.front() != '.');
  FUZZ_CHECK(mxtls::NormalizeQueryName(name) == name);
}

void CheckRecord(const DnsRecord& rr) {
  CheckName(rr.name);
  CheckName(rr.target);
  switch (rr.type) {
    case mxtls::kDnsTypeMx:
      FUZZ_CHECK(rr.rdata.size() >= 3);
      FUZZ_CHECK(rr.preference == ((rr.rdata[0] << 8) | rr.rdata[1]));
      break;
    case mxtls::kDnsTypeCname:
    case mxtls::kDnsTypeDname:
    case mxtls::kDnsTypeNs:
    case mxtls::kDnsTypePtr:
      FUZZ_CHECK(!rr.rdata.empty());
      break;
    default:
      FUZZ_CHECK(rr.target.empty());
  }
}

bool IsLookupReason(const Status& s) {
  const std::string& r = s.reason();
  return s.ok() || r == "nxdomain" || r == "nodata" || r == "servfail" || r == "refused" ||
         r == "timeout" || r == "dns_error";
}

void CheckStatus(const Status& s) {
  FUZZ_CHECK(IsLookupReason(s));
  FUZZ_CHECK(IsPrintableAscii(s.message()));
}

void CheckChain(const DnsMessage& m, const std::string& qname, uint16_t qtype) {
  mxtls::Result<mxtls::AnswerChain> chain = mxtls::FollowAnswerChain(m, qname, qtype);
  if (!chain.ok()) {
    FUZZ_CHECK(chain.status().reason() == "dns_error");
    FUZZ_CHECK(IsPrintableAscii(chain.status().message()));
    return;
  }
  FUZZ_CHECK(chain->aliases.size() <= 16);
  if (chain->aliases.empty()) {
    FUZZ_CHECK(chain->canonical_name == mxtls::NormalizeQueryName(qname));
  } else {
    FUZZ_CHECK(chain->aliases.front() == mxtls::NormalizeQueryName(qname));
  }
  for (const DnsRecord& rr : chain->records) {
    FUZZ_CHECK(rr.type == qtype && rr.klass == mxtls::kDnsClassIn);
    FUZZ_CHECK(rr.name == chain->canonical_name);
  }
}

void Interpret(const std::string& qname, const RawLookup& raw) {
  mxtls::MxLookup mx = mxtls::InterpretMxAnswer(qname, raw);
  CheckStatus(mx.status);
  FUZZ_CHECK(mx.rcode == raw.rcode);
  if (!raw.status.ok()) FUZZ_CHECK(mx.status.reason() == raw.status.reason());
  if (mx.null_mx) FUZZ_CHECK(mx.records.empty() && mx.status.ok() && !mx.null_mx_mixed);
  if (!mx.status.ok()) FUZZ_CHECK(mx.records.empty());
  for (size_t i = 0; i < mx.records.size(); ++i) {
    FUZZ_CHECK(!mx.records[i].host.empty());
    CheckName(mx.records[i].host);
    if (i > 0) {
      const mxtls::MxRecord& a = mx.records[i - 1];
      const mxtls::MxRecord& b = mx.records[i];
      FUZZ_CHECK(a.preference < b.preference ||
                 (a.preference == b.preference && a.host < b.host));
    }
  }
  // Two root MX records (say "0 ." and "10 .") leave status ok with no records and
  // null_mx_mixed set: reported in fuzz/README.md, not a crash.
  if (mx.status.ok()) FUZZ_CHECK(mx.null_mx || !mx.records.empty() || mx.null_mx_mixed);

  for (uint16_t qtype : {mxtls::kDnsTypeA, mxtls::kDnsTypeAaaa}) {
    mxtls::AddressLookup addr = mxtls::InterpretAddressAnswer(qname, qtype, raw);
    CheckStatus(addr.status);
    if (!raw.status.ok()) FUZZ_CHECK(addr.status.reason() == raw.status.reason());
    FUZZ_CHECK(addr.is_cname == !addr.cname_chain.empty());
    FUZZ_CHECK(addr.status.ok() == !addr.addresses.empty());
    for (size_t i = 0; i < addr.addresses.size(); ++i) {
      unsigned char buf[16];
      const int family = qtype == mxtls::kDnsTypeAaaa ? AF_INET6 : AF_INET;
      FUZZ_CHECK(inet_pton(family, addr.addresses[i].c_str(), buf) == 1);
      for (size_t j = 0; j < i; ++j) FUZZ_CHECK(addr.addresses[j] != addr.addresses[i]);
    }
  }

  mxtls::TxtLookup txt = mxtls::InterpretTxtAnswer(qname, raw);
  CheckStatus(txt.status);
  if (!raw.status.ok()) FUZZ_CHECK(txt.status.reason() == raw.status.reason());
  FUZZ_CHECK(txt.status.ok() == !txt.records.empty());

  // TLSA: every record's RDATA goes through the DANE parser, which must either read it or
  // say "malformed"; usable records must be well-formed.
  mxtls::TlsaLookup tlsa = mxtls::InterpretTlsaAnswer(qname, raw);
  CheckStatus(tlsa.status);
  if (!raw.status.ok()) FUZZ_CHECK(tlsa.status.reason() == raw.status.reason());
  FUZZ_CHECK(tlsa.status.ok() == !tlsa.rdata.empty());
  std::vector<mxtls::TlsaRecord> records;
  for (const auto& rdata : tlsa.rdata) {
    mxtls::Result<mxtls::TlsaRecord> parsed = mxtls::ParseTlsaRdata(rdata);
    if (!parsed.ok()) {
      FUZZ_CHECK(parsed.status().reason() == "malformed");
      FUZZ_CHECK(IsPrintableAscii(parsed.status().message()));
      continue;
    }
    FUZZ_CHECK(parsed->data.size() + 3 == rdata.size());
    if (mxtls::IsUsableForSmtp(*parsed)) FUZZ_CHECK(mxtls::HasWellFormedData(*parsed));
    FUZZ_CHECK(IsPrintableAscii(mxtls::DescribeTlsaRecord(*parsed)));
    records.push_back(std::move(parsed).value());
  }
  FUZZ_CHECK(mxtls::SupersededByDigestAgility(records).size() == records.size());

  mxtls::PtrLookup ptr = mxtls::InterpretPtrAnswer(qname, raw);
  CheckStatus(ptr.status);
  FUZZ_CHECK(ptr.status.ok() == !ptr.names.empty());
  for (const auto& name : ptr.names) {
    FUZZ_CHECK(!name.empty());
    CheckName(name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> wire(data, size);
  mxtls::Result<DnsMessage> parsed = mxtls::ParseDnsMessage(wire);

  std::vector<std::string> qnames = {"example.com"};
  if (parsed.ok()) {
    const DnsMessage& m = *parsed;
    for (const mxtls::DnsQuestion& q : m.questions) CheckName(q.name);
    for (const auto* section : {&m.answers, &m.authorities, &m.additionals}) {
      for (const DnsRecord& rr : *section) CheckRecord(rr);
    }
    if (!m.questions.empty()) qnames.push_back(m.questions.front().name);
    std::vector<uint16_t> types = {mxtls::kDnsTypeMx, mxtls::kDnsTypeA, mxtls::kDnsTypeAaaa,
                                   mxtls::kDnsTypeTxt, mxtls::kDnsTypeCname};
    if (!m.questions.empty()) types.push_back(m.questions.front().type);
    for (const std::string& qname : qnames) {
      for (uint16_t qtype : types) CheckChain(m, qname, qtype);
    }
    mxtls::DnsTypeName(m.questions.empty() ? 0 : m.questions.front().type);
    mxtls::DnsRcodeName(m.header.rcode);
  } else {
    FUZZ_CHECK(parsed.status().reason() == "dns_error");
    FUZZ_CHECK(IsPrintableAscii(parsed.status().message()));
  }

  // The raw lookup as DnsResolver builds it from a c-ares answer (FromAres), and the same
  // answer behind a failed transport status.
  RawLookup raw;
  if (size >= 12) {
    raw.rcode = data[3] & 0x0F;
    raw.authentic_data = (data[3] & 0x20) != 0;
    raw.answer.assign(data, data + size);
    raw.status = mxtls::StatusForRcode(raw.rcode, "fuzz.example MX");
  } else {
    raw.status = Status::Error("dns_error", "malformed answer: shorter than a DNS header");
  }
  for (const std::string& qname : qnames) Interpret(qname, raw);
  if (!raw.answer.empty() && raw.status.ok()) {
    raw.status = Status::Error("servfail", "fuzz.example MX: SERVFAIL");
    Interpret(qnames.back(), raw);
  }
  return 0;
}
