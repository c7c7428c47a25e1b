// The client verifies the API server against the kubeconfig's CA, presents client certificates,
// and sends bearer tokens; checked against a local HTTPS server that demands a client
// certificate. Certificates are made with the openssl CLI (skipped without it).
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kube/client.h"

namespace flexai::kube {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TlsClientTest : public ::testing::Test {
 protected:
  // Certificates are made once for the suite (RSA key generation is slow).
  static void SetUpTestSuite() {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) return;
    dir_ = std::filesystem::temp_directory_path() / ("flexai-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string d = dir_.string();
    std::string script =
        "cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key "
        "-out ca.crt"
        " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout "
        "other.key -out other.crt"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out "
        "server.csr"
        " && printf 'subjectAltName=IP:127.0.0.1' > san.ext"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.crt"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=flexai -keyout client.key -out "
        "client.csr"
        " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-out client.crt";
    have_certs_ = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    if (!have_certs_) GTEST_SKIP() << "no openssl CLI to make test certificates";
    server_ = std::make_unique<httplib::SSLServer>(
        (dir_ / "server.crt").c_str(), (dir_ / "server.key").c_str(), (dir_ / "ca.crt").c_str());
    ASSERT_TRUE(server_->is_valid());
    server_->Get("/api", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("{\"auth\":\"" + req.get_header_value("Authorization") + "\"}",
                      "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  ClusterConfig Config(const std::string& ca_file, bool client_cert) {
    ClusterConfig c;
    c.server = "https://127.0.0.1:" + std::to_string(port_);
    c.ca_pem = Slurp(dir_ / ca_file);
    if (client_cert) {
      c.client_cert_pem = Slurp(dir_ / "client.crt");
      c.client_key_pem = Slurp(dir_ / "client.key");
    }
    return c;
  }

  static inline std::filesystem::path dir_;
  static inline bool have_certs_ = false;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(TlsClientTest, ClientCertificateAndTrustedCaGetThrough) {
  ClusterConfig config = Config("ca.crt", true);
  config.token = "secret-token";
  auto client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok()) << client.error().message;
  ApiResponse r = (*client)->Get("/api");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body["auth"], "Bearer secret-token");
}

TEST_F(TlsClientTest, ServerSignedByAnotherCaIsRejected) {
  auto client = KubeClient::Create(Config("other.crt", true));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Get("/api").status, 0);
}

TEST_F(TlsClientTest, InsecureSkipVerifyAcceptsAnUntrustedServer) {
  ClusterConfig config = Config("other.crt", true);
  config.insecure_skip_verify = true;
  auto client = KubeClient::Create(config);
  EXPECT_EQ((*client)->Get("/api").status, 200);
}

TEST_F(TlsClientTest, ServerDemandingAClientCertificateRefusesNone) {
  auto client = KubeClient::Create(Config("ca.crt", false));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Get("/api").status, 0);
}

TEST_F(TlsClientTest, TokenFileIsReadForEachNewClient) {
  std::ofstream(dir_ / "token") << "from-file\n";  // trailing newline is trimmed
  ClusterConfig config = Config("ca.crt", true);
  config.token_file = (dir_ / "token").string();
  auto client = KubeClient::Create(config);
  EXPECT_EQ((*client)->Get("/api").body["auth"], "Bearer from-file");
}

TEST(KubeClientCreate, RefusesGarbageCredentialsAtStartUp) {
  ClusterConfig c;
  c.server = "https://127.0.0.1:1";
  c.ca_pem = "not a certificate";
  EXPECT_FALSE(KubeClient::Create(c).ok());
  c.ca_pem.clear();
  c.client_cert_pem = "junk";
  c.client_key_pem = "junk";
  EXPECT_FALSE(KubeClient::Create(c).ok());
  EXPECT_FALSE(KubeClient::Create(PlainServerConfig("ftp://x")).ok());
  EXPECT_FALSE(KubeClient::Create(PlainServerConfig("http://")).ok());
}

}  // namespace
}  // namespace flexai::kube
