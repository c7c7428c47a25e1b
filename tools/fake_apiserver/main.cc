// flexai-fake-apiserver: serves the fake Kubernetes API on plain HTTP for tests and demos.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>

#include "fake_apiserver.h"

int main(int argc, char** argv) {
  CLI::App app{"flexai-fake-apiserver: a fake Kubernetes API server over plain HTTP"};
  std::string listen = "127.0.0.1:0";
  std::string state;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0 = any free port)");
  app.add_option("--state", state, "JSON file with objects to start with (a v1 List or an array)");
  CLI11_PARSE(app, argc, argv);

  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    spdlog::error("--listen {}: expected HOST:PORT", listen);
    return 2;
  }
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);

  // Stop signals are taken by sigwait below, not by a handler: stopping joins the server's
  // threads, which is nothing a signal handler may do. Blocked before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  flexai::fake::FakeApiServer server;
  if (!state.empty()) {
    if (auto s = server.LoadState(state); !s.ok()) {
      spdlog::error("{}", s.message());
      return 1;
    }
  }
  auto bound = server.Start(host, port);
  if (!bound.ok()) {
    spdlog::error("{}", bound.error().message);
    return 1;
  }
  // The port on stdout lets scripts start it with port 0.
  std::printf("listening on %s\n", server.url().c_str());
  std::fflush(stdout);
  spdlog::info("fake apiserver listening on {}", server.url());
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received signal {}, stopping", signal);
  server.Stop();
  return 0;
}
