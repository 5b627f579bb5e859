// Fakes for the app/ tests: a signer whose signatures are plain text, so that approval rules
// can be tested without ssh-keygen (the environment fake is testing/fake_environment.h).
#pragma once

#include <chrono>
#include <fstream>
#include <map>
#include <string>

#include "app/signer.h"
#include "engine/environment.h"
#include "testing/fake_environment.h"

namespace runbook::testing {

/// Signs as "sig(KEY,MESSAGE)"; verifies against the key each identity is given with Trust.
class FakeSigner : public Signer {
 public:
  void Trust(const std::string& identity, const std::string& key) { keys_[identity] = key; }
  Result<std::string> Sign(const std::string& key, const std::string& message) override {
    ++signs;
    return "sig(" + key + "," + message + ")";
  }
  Status Verify(const std::string&, const std::string& identity, const std::string& message,
                const std::string& signature) override {
    ++verifies;
    auto it = keys_.find(identity);
    if (it == keys_.end() || signature != "sig(" + it->second + "," + message + ")")
      return Status::Refused("not signed by " + identity + "'s key");
    return Status::Ok();
  }
  int signs = 0;
  int verifies = 0;

 private:
  std::map<std::string, std::string> keys_;
};

inline void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace runbook::testing
