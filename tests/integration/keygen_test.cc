// signalbus-keygen as an operator runs it: a pair whose secret is 0600 and whose public
// key is printed (the secret never is), a refusal to overwrite without --force, and one
// clear line with exit 2 for a bad name or flag.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "process.h"
#include "signalbus/core/curve_keys.h"

namespace signalbus::testing {
namespace {

class KeygenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sb-keygen-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
};

TEST_F(KeygenTest, WritesAnOwnerOnlySecretAndPrintsOnlyThePublicKey) {
  RunResult run = RunToCompletion("signalbus-keygen", {"broker", "--dir", dir_});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/broker.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<CurveKeyPair> pair = ReadCurveSecretFile(dir_ + "/broker.key");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  Result<std::string> pub = ReadCurvePublicKey(dir_ + "/broker.pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(*pub, pair->public_key);
  EXPECT_NE(run.out.find("public key " + pair->public_key), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find(pair->secret_key), std::string::npos);
  EXPECT_EQ(run.err.find(pair->secret_key), std::string::npos);
}

TEST_F(KeygenTest, RefusesToReplaceAKeyUnlessForced) {
  ASSERT_EQ(RunToCompletion("signalbus-keygen", {"svc", "--dir", dir_}).exit_code, 0);
  const std::string before = Read(dir_ + "/svc.key");
  RunResult again = RunToCompletion("signalbus-keygen", {"svc", "--dir", dir_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists already (--force replaces it)"), std::string::npos) << again.err;
  EXPECT_EQ(Read(dir_ + "/svc.key"), before);
  RunResult forced = RunToCompletion("signalbus-keygen", {"svc", "--dir", dir_, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(Read(dir_ + "/svc.key"), before);
}

TEST_F(KeygenTest, ABadNameOrFlagIsOneLineAndExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"../etc/x", "--dir", dir_}, {"has space", "--dir", dir_}, {"svc", "--bogus"}, {}}) {
    RunResult run = RunToCompletion("signalbus-keygen", args);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

}  // namespace
}  // namespace signalbus::testing
