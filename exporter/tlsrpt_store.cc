#include "exporter/tlsrpt_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/hex.h"
#include "common/log.h"

namespace mxtls {
namespace {

using json = nlohmann::json;

constexpr char kSuccessful[] = "mxtls_tlsrpt_successful_sessions_total";
constexpr char kSummaryFailed[] = "mxtls_tlsrpt_summarized_failed_sessions_total";
constexpr char kFailed[] = "mxtls_tlsrpt_failed_sessions_total";
constexpr char kAccepted[] = "mxtls_tlsrpt_reports_accepted_total";
constexpr char kDuplicate[] = "mxtls_tlsrpt_reports_duplicate_total";
constexpr char kRejected[] = "mxtls_tlsrpt_reports_rejected_total";

struct CounterInfo {
  const char* name;
  std::vector<std::string> labels;
  const char* help;
};

const std::vector<CounterInfo>& Counters() {
  static const std::vector<CounterInfo> kInfo = {
      {kSuccessful,
       {"policy_domain", "policy_type"},
       "Sessions reported successful by TLS-RPT reports (RFC 8460 summaries), by policy domain "
       "and policy type."},
      {kSummaryFailed,
       {"policy_domain", "policy_type"},
       "Sessions reported failed by TLS-RPT report summaries (total-failure-session-count), by "
       "policy domain and policy type; may differ from the sum of the failure details."},
      {kFailed,
       {"policy_domain", "policy_type", "result_type", "organization", "receiving_mx"},
       "Failed sessions in TLS-RPT failure details, by result type (RFC 8460 4.3, others as "
       "\"other\"), reporting organization and receiving MX (both bounded per domain; the rest "
       "as \"other\")."},
      {kAccepted, {"source"}, "TLS-RPT reports accepted and counted, by source (http, spool)."},
      {kDuplicate,
       {"source"},
       "TLS-RPT reports received again (same reporter and report-id) and not counted again."},
      {kRejected,
       {"reason"},
       "TLS-RPT reports refused, by reason (malformed, bad_gzip, decompressed_too_large, "
       "too_large, foreign_domain, unsupported_media_type, length_required, bad_mime, "
       "storage)."},
  };
  return kInfo;
}

std::string Sha256Hex(const std::string& text) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  return LowerHex(digest, sizeof(digest));
}

Status FsyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Error("storage", "open " + dir + ": " + std::strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Status::Error("storage", "fsync " + dir + ": " + std::strerror(errno));
  return Status();
}

Status MakeDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::Error("storage", "mkdir " + dir + ": " + std::strerror(errno));
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error("storage", dir + " is not a directory");
  }
  return Status();
}

bool ValidHostName(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return h.front() != '.' && h.find("..") == std::string::npos;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::Error("storage", "open " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return Status::Error("storage", "write " + tmp + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    unlink(tmp.c_str());
    return Status::Error("storage", "fsync " + tmp + ": " + why);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    return Status::Error("storage", "rename " + tmp + ": " + why);
  }
  size_t slash = path.rfind('/');
  return FsyncDirectory(slash == std::string::npos ? "." : path.substr(0, slash));
}

std::string NormalizedOrganization(const std::string& organization) {
  std::string out;
  for (unsigned char c : organization) {
    if (out.size() >= 64) break;
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (c == '.' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');  // spaces, commas, "Inc." punctuation: one separator
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "unknown" : out;
}

bool MxPatternMatches(const std::string& pattern, const std::string& host) {
  if (pattern.rfind("*.", 0) == 0) {
    const std::string suffix = pattern.substr(1);  // ".example.com"
    if (host.size() <= suffix.size()) return false;
    if (host.compare(host.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    return host.find('.') == host.size() - suffix.size();  // exactly one more label
  }
  return pattern == host;
}

TlsRptStore::TlsRptStore(std::string dir, std::chrono::seconds retention)
    : dir_(std::move(dir)), retention_(retention) {}

Result<std::unique_ptr<TlsRptStore>> TlsRptStore::Open(const std::string& data_directory,
                                                       std::chrono::seconds retention) {
  if (Status s = MakeDirectory(data_directory); !s.ok()) return s;
  if (Status s = MakeDirectory(data_directory + "/reports"); !s.ok()) return s;
  std::unique_ptr<TlsRptStore> store(new TlsRptStore(data_directory, retention));
  if (Status s = store->Load(); !s.ok()) return s;
  return store;
}

Status TlsRptStore::Load() {
  const std::string path = dir_ + "/totals.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (access(path.c_str(), F_OK) != 0) return Status();  // first start
    return Status::Error("storage", "cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("version", 0) != 1) {
    return Status::Error("storage", path + " is not a totals file of this version");
  }
  try {
    Totals t;
    for (const json& c : doc.at("counters")) {
      t.counters[c.at("metric").get<std::string>()][c.at("labels").get<std::vector<std::string>>()] =
          c.at("value").get<uint64_t>();
    }
    t.last_end = doc.at("last_end").get<std::map<std::string, int64_t>>();
    t.seen = doc.at("seen").get<std::map<std::string, int64_t>>();
    totals_ = std::move(t);
  } catch (const json::exception& e) {
    return Status::Error("storage", path + ": " + e.what());
  }
  return Status();
}

TlsRptStore::~TlsRptStore() {
  std::lock_guard<std::mutex> lock(mu_);
  SaveRejectedLocked(/*force=*/true);
}

void TlsRptStore::SaveRejectedLocked(bool force) {
  if (!unsaved_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_save_ < kRejectedSaveInterval) return;
  if (Status s = Persist(totals_); !s.ok()) {
    log::Warn("tlsrpt: cannot save totals", {{"err", s.message()}});
  }
}

Status TlsRptStore::Persist(const Totals& next) {
  json counters = json::array();
  for (const auto& [metric, series] : next.counters) {
    for (const auto& [labels, value] : series) {
      counters.push_back({{"metric", metric}, {"labels", labels}, {"value", value}});
    }
  }
  json doc = {{"version", 1},
              {"counters", counters},
              {"last_end", next.last_end},
              {"seen", next.seen}};
  Status written = WriteFileAtomically(dir_ + "/totals.json", doc.dump(1));
  if (written.ok()) {
    // `next` holds every refusal counted so far (Record builds it from totals_).
    unsaved_ = false;
    last_save_ = std::chrono::steady_clock::now();
  }
  return written;
}

std::string TlsRptStore::OrganizationLabel(const Totals& t, const std::string& domain,
                                           const std::string& organization) const {
  const std::string org = NormalizedOrganization(organization);
  std::set<std::string> known;
  auto it = t.counters.find(kFailed);
  if (it != t.counters.end()) {
    for (const auto& [labels, value] : it->second) {
      if (labels[0] == domain && labels[3] != "other") known.insert(labels[3]);
    }
  }
  if (known.count(org) || known.size() < kMaxOrganizationsPerDomain) return org;
  return "other";
}

std::string TlsRptStore::MxLabel(const Totals& t, const std::string& domain,
                                 const TlsRptPolicyResult& policy, const std::string& mx) const {
  if (mx.empty()) return "unknown";
  if (!ValidHostName(mx)) return "other";
  if (!policy.mx_hosts.empty()) {
    bool matches = false;
    for (const auto& p : policy.mx_hosts) matches = matches || MxPatternMatches(p, mx);
    if (!matches) return "other";
  }
  std::set<std::string> known;
  auto it = t.counters.find(kFailed);
  if (it != t.counters.end()) {
    for (const auto& [labels, value] : it->second) {
      if (labels[0] == domain && labels[4] != "other" && labels[4] != "unknown") {
        known.insert(labels[4]);
      }
    }
  }
  if (known.count(mx) || known.size() < kMaxMxPerDomain) return mx;
  return "other";
}

TlsRptStore::Recorded TlsRptStore::Record(
    const TlsRptReceivedReport& report, const std::string& json_text,
    const std::function<bool(const std::string&)>& is_target, const std::string& source,
    int64_t now_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = report.DedupKey();
  Recorded out;
  Totals next = totals_;
  if (next.seen.count(key)) {
    next.counters[kDuplicate][{source}] += 1;
    out.outcome = Outcome::kDuplicate;
  } else {
    bool any = false;
    for (const TlsRptPolicyResult& p : report.policies) {
      if (!is_target(p.policy_domain)) continue;  // foreign domains create no series
      any = true;
      const std::string type = NormalizedPolicyType(p.policy_type);
      next.counters[kSuccessful][{p.policy_domain, type}] += p.total_successful_session_count;
      next.counters[kSummaryFailed][{p.policy_domain, type}] += p.total_failure_session_count;
      for (const TlsRptFailure& f : p.failures) {
        std::vector<std::string> labels = {
            p.policy_domain, type, NormalizedResultType(f.result_type),
            OrganizationLabel(next, p.policy_domain, report.organization_name),
            MxLabel(next, p.policy_domain, p, f.receiving_mx_hostname)};
        next.counters[kFailed][labels] += f.failed_session_count;
      }
      int64_t& end = next.last_end[p.policy_domain];
      end = std::max(end, report.end_seconds);
    }
    if (!any) {
      out.error = Status::Error("foreign_domain", "no policy domain of the report is a target");
      totals_.counters[kRejected][{"foreign_domain"}] += 1;
      unsaved_ = true;
      SaveRejectedLocked(/*force=*/false);
      return out;
    }
    // The report first: a crash before the totals are saved leaves a stored report that is
    // not counted, and its next delivery counts it once.
    const std::string name = dir_ + "/reports/" + std::to_string(now_seconds) + "_" +
                             Sha256Hex(key).substr(0, 32) + ".json";
    if (Status s = WriteFileAtomically(name, json_text); !s.ok()) {
      out.error = s;
      totals_.counters[kRejected][{"storage"}] += 1;
      unsaved_ = true;
      return out;
    }
    next.seen[key] = now_seconds;
    next.counters[kAccepted][{source}] += 1;
    out.outcome = Outcome::kAccepted;
  }
  if (Status s = Persist(next); !s.ok()) {
    out.outcome = Outcome::kRejected;
    out.error = s;
    totals_.counters[kRejected][{"storage"}] += 1;
    unsaved_ = true;
    return out;
  }
  totals_ = std::move(next);
  return out;
}

void TlsRptStore::CountRejected(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  totals_.counters[kRejected][{reason}] += 1;
  unsaved_ = true;
  SaveRejectedLocked(/*force=*/false);
}

void TlsRptStore::Prune(int64_t now_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t cutoff = now_seconds - retention_.count();
  Totals next = totals_;
  size_t forgotten = 0;
  for (auto it = next.seen.begin(); it != next.seen.end();) {
    if (it->second < cutoff) {
      it = next.seen.erase(it);
      ++forgotten;
    } else {
      ++it;
    }
  }
  // Ids are forgotten only once the totals without them are saved; the files go after.
  if (forgotten > 0 || unsaved_) {
    if (Status s = Persist(next); !s.ok()) {
      log::Warn("tlsrpt: cannot save totals", {{"err", s.message()}});
      return;
    }
    totals_ = std::move(next);
  }
  const std::string reports = dir_ + "/reports";
  DIR* d = opendir(reports.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    char* end = nullptr;
    long long arrived = std::strtoll(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '_') continue;
    if (arrived < cutoff) unlink((reports + "/" + name).c_str());
  }
  closedir(d);
}

std::vector<prometheus::MetricFamily> TlsRptStore::Families() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<prometheus::MetricFamily> out;
  for (const CounterInfo& info : Counters()) {
    prometheus::MetricFamily f;
    f.name = info.name;
    f.help = info.help;
    f.type = prometheus::MetricType::Counter;
    auto it = totals_.counters.find(info.name);
    if (it != totals_.counters.end()) {
      for (const auto& [labels, value] : it->second) {
        prometheus::ClientMetric m;
        for (size_t i = 0; i < info.labels.size() && i < labels.size(); ++i) {
          m.label.push_back({info.labels[i], labels[i]});
        }
        m.counter.value = static_cast<double>(value);
        f.metric.push_back(std::move(m));
      }
    }
    if (!f.metric.empty()) out.push_back(std::move(f));
  }
  prometheus::MetricFamily last;
  last.name = "mxtls_tlsrpt_last_report_end_timestamp_seconds";
  last.help = "End of the date-range of the latest TLS-RPT report counted, per policy domain.";
  last.type = prometheus::MetricType::Gauge;
  for (const auto& [domain, end] : totals_.last_end) {
    prometheus::ClientMetric m;
    m.label.push_back({"policy_domain", domain});
    m.gauge.value = static_cast<double>(end);
    last.metric.push_back(std::move(m));
  }
  if (!last.metric.empty()) out.push_back(std::move(last));
  return out;
}

}  // namespace mxtls
