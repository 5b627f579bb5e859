#include <gtest/gtest.h>

#include "web/pages.h"
#include "web/server.h"

namespace runbook::web {
namespace {

TEST(ServeOptionsTest, LoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"})
    EXPECT_TRUE(IsLoopback(host)) << host;
  for (const char* host : {"0.0.0.0", "10.0.0.1", "::", "example.com", "128.0.0.1", ""})
    EXPECT_FALSE(IsLoopback(host)) << host;
}

TEST(ServeOptionsTest, ParsesListen) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListen("127.0.0.1:8080", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(ParseListen("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"8080", ":8080", "host:", "host:http", "host:70000", "h:99999999999"})
    EXPECT_FALSE(ParseListen(bad, &host, &port).ok()) << bad;
}

TEST(ServeOptionsTest, RefusesPlainHttpBeyondLoopback) {
  ServeOptions o;
  o.users_file = "users";
  EXPECT_TRUE(CheckServeOptions(o).ok());
  o.host = "0.0.0.0";
  Status s = CheckServeOptions(o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--tls-cert"), std::string::npos);
  o.insecure = true;
  EXPECT_TRUE(CheckServeOptions(o).ok());
  o.insecure = false;
  o.tls_cert = "c.pem";
  EXPECT_FALSE(CheckServeOptions(o).ok());  // a certificate without its key
  o.tls_key = "k.pem";
  EXPECT_TRUE(CheckServeOptions(o).ok());
}

TEST(ServeOptionsTest, AProxyHeaderOnlyOnLoopback) {
  ServeOptions o;
  o.trust_proxy_header = "X-Remote-User";
  EXPECT_TRUE(CheckServeOptions(o).ok());  // no users file needed
  o.host = "10.0.0.5";
  o.tls_cert = "c.pem";
  o.tls_key = "k.pem";
  EXPECT_FALSE(CheckServeOptions(o).ok());
  ServeOptions nobody;
  EXPECT_FALSE(CheckServeOptions(nobody).ok());  // neither accounts nor a proxy
}

TEST(PagesTest, PathsEncodeEverythingButSafeCharacters) {
  EXPECT_EQ(Path("/plans/", "plan-1a_b.c"), "/plans/plan-1a_b.c");
  EXPECT_EQ(Path("/plans/", "a/../b?c"), "/plans/a%2F..%2Fb%3Fc");
  EXPECT_EQ(Path("/login?next=", "//evil"), "/login?next=%2F%2Fevil");
}

TEST(PagesTest, ThePageEscapesWhatItIsGiven) {
  const std::string html = Page({"<b>eve</b>", "tok\"en", false}, "/", "<title>", "body");
  EXPECT_EQ(html.find("<b>eve</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;eve&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("tok\"en"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);  // no inline script, only live.js
  EXPECT_NE(html.find("<script src=\"/static/live.js\" defer></script>"), std::string::npos);
}

}  // namespace
}  // namespace runbook::web
