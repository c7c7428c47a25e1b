// A fake Kubernetes API server over plain HTTP for tests and demos: the REST contract flexai and
// kubectl use (discovery, create/get/list/watch/replace/merge-patch/delete, pods/binding,
// resourceVersion, 409, 410) for nodes, pods, leases, events and a few more, plus fault injection.
// Runs in-process (tests) or as the flexai-fake-apiserver binary.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "object_store.h"
#include "partition/result.h"

namespace httplib {
class Server;
}

namespace flexai::fake {

// Faults to inject; counters count down as requests consume them.
struct Faults {
  int patch_conflicts = 0;  // the next N PATCH requests answer 409 Conflict
  int watch_gone = 0;       // the next N watch requests answer an ERROR event with code 410
  int server_errors = 0;    // the next N API requests answer 500
  int binding_errors = 0;   // the next N pods/binding requests answer 500
  int latency_ms = 0;       // every API request waits this long first (stays until changed)
};

class FakeApiServer {
 public:
  FakeApiServer();
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Binds `host:port` (port 0 = a free one) and serves on background threads; returns the port.
  Result<int> Start(const std::string& host = "127.0.0.1", int port = 0);
  void Stop();
  // Blocks until Stop() (the binary's main loop).
  void Wait();
  std::string url() const;

  // Loads objects from a JSON file: a v1 List ({"items": [...]}) or an array of objects.
  Status LoadState(const std::string& path);

  // Direct access for tests; these go through the same store, so watches see them.
  ObjectStore& store() { return store_; }
  Reply Create(const std::string& plural, const std::string& ns, const Json& object);
  Reply Get(const std::string& plural, const std::string& ns, const std::string& name);
  Reply MergePatch(const std::string& plural, const std::string& ns, const std::string& name,
                   const Json& patch);
  Reply Delete(const std::string& plural, const std::string& ns, const std::string& name);

  void InjectFaults(const Faults& faults);
  Faults faults() const;
  // Requests served so far by HTTP method ("PATCH", "POST", ...), for tests.
  int request_count(const std::string& method) const;
  // Watch streams opened so far.
  int watch_count() const { return watches_.load(); }
  // How often idle watches get a BOOKMARK (when the client allows bookmarks).
  void set_bookmark_interval(std::chrono::milliseconds interval) { bookmark_interval_ = interval; }

 private:
  void Route();
  bool TakeFault(int Faults::*counter);

  ObjectStore store_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
  mutable std::mutex faults_mu_;
  Faults faults_;
  std::map<std::string, int> request_counts_;
  std::atomic<int> watches_{0};
  std::atomic<bool> stopping_{false};
  std::chrono::milliseconds bookmark_interval_{2000};
};

// Resolves "pods" / "leases" / ... to its type (the first with that plural).
const ResourceType* ResourceByPlural(const std::string& plural);

}  // namespace flexai::fake
