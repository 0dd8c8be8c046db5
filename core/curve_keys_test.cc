// CURVE key files: a generated pair round-trips through its two files, the secret file
// is 0600 from its first byte, and a secret that others may read, a malformed key or a
// file of two keys is refused with a message naming the file and never the key.
#include "signalbus/core/curve_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace signalbus {
namespace {

class CurveKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CurveAvailable()) GTEST_SKIP() << "libzmq without CURVE";
    char pattern[] = "/tmp/sb-curve-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& text, mode_t mode) {
    std::ofstream(dir_ + "/" + name) << text;
    ASSERT_EQ(::chmod((dir_ + "/" + name).c_str(), mode), 0);
  }
  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  std::string dir_;
};

TEST_F(CurveKeysTest, AGeneratedPairRoundTripsThroughItsFilesAndTheSecretIsOwnerOnly) {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_TRUE(ValidateCurveKey(pair->public_key, "public").ok());
  EXPECT_TRUE(ValidateCurveKey(pair->secret_key, "secret").ok());
  ::umask(0);  // even with no umask at all, the secret is never readable by others
  Status written = WriteCurveKeyPair(dir_, "broker", *pair, false);
  ::umask(022);
  ASSERT_TRUE(written.ok()) << written.ToString();
  EXPECT_EQ(ModeOf(dir_ + "/broker.key"), 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/broker.pub"), 0644u);
  Result<CurveKeyPair> read = ReadCurveSecretFile(dir_ + "/broker.key");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->secret_key, pair->secret_key);
  EXPECT_EQ(read->public_key, pair->public_key);  // derived from the secret
  Result<std::string> pub = ReadCurvePublicKey(dir_ + "/broker.pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(*pub, pair->public_key);
  Result<std::string> literal = ReadCurvePublicKey(pair->public_key);
  ASSERT_TRUE(literal.ok());
  EXPECT_EQ(*literal, pair->public_key);
}

TEST_F(CurveKeysTest, ExistingFilesAreReplacedOnlyWhenAskedTo) {
  CurveKeyPair first = *GenerateCurveKeyPair(), second = *GenerateCurveKeyPair();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "svc", first, false).ok());
  Status again = WriteCurveKeyPair(dir_, "svc", second, false);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("exists already"), std::string::npos) << again.message();
  EXPECT_EQ(ReadCurveSecretFile(dir_ + "/svc.key")->secret_key, first.secret_key);
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "svc", second, true).ok());
  EXPECT_EQ(ReadCurveSecretFile(dir_ + "/svc.key")->secret_key, second.secret_key);
  EXPECT_EQ(WriteCurveKeyPair(dir_, "../escape", first, false).code(), StatusCode::kInvalidArgument);
}

TEST_F(CurveKeysTest, ASecretThatOthersMayReadOrWriteIsRefusedNamingTheFileNotTheKey) {
  CurveKeyPair pair = *GenerateCurveKeyPair();
  for (mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
    Write("loose.key", pair.secret_key + "\n", mode);
    Result<CurveKeyPair> read = ReadCurveSecretFile(dir_ + "/loose.key");
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_EQ(read.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(read.status().message().find(dir_ + "/loose.key"), std::string::npos) << read.status().message();
    EXPECT_NE(read.status().message().find("chmod 600"), std::string::npos) << read.status().message();
    EXPECT_EQ(read.status().message().find(pair.secret_key), std::string::npos);
  }
  Write("tight.key", "# comment\n\n  " + pair.secret_key + "  \n", 0600);
  EXPECT_TRUE(ReadCurveSecretFile(dir_ + "/tight.key").ok());
  EXPECT_EQ(ReadCurveSecretFile(dir_ + "/missing.key").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadCurveSecretFile(dir_).status().code(), StatusCode::kFailedPrecondition);  // a directory
}

TEST_F(CurveKeysTest, MalformedKeysAndFilesOfTwoKeysAreRefused) {
  CurveKeyPair a = *GenerateCurveKeyPair(), b = *GenerateCurveKeyPair();
  Write("two.key", a.secret_key + "\n" + b.secret_key + "\n", 0600);
  Result<CurveKeyPair> two = ReadCurveSecretFile(dir_ + "/two.key");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("holds 2 key lines"), std::string::npos) << two.status().message();
  Write("empty.key", "# nothing\n", 0600);
  EXPECT_FALSE(ReadCurveSecretFile(dir_ + "/empty.key").ok());
  Write("short.key", a.secret_key.substr(0, 39) + "\n", 0600);
  Result<CurveKeyPair> short_key = ReadCurveSecretFile(dir_ + "/short.key");
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find("39 characters"), std::string::npos) << short_key.status().message();
  std::string not_z85 = a.secret_key;
  not_z85[3] = '"';  // not in the Z85 alphabet
  Write("bad.key", not_z85 + "\n", 0600);
  Result<CurveKeyPair> bad = ReadCurveSecretFile(dir_ + "/bad.key");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not Z85"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ReadCurvePublicKey("not-a-key").ok());
  EXPECT_FALSE(ReadCurvePublicKey(not_z85).ok());
  // A secret pasted where the broker's public key belongs (with a stray space) is not
  // echoed in the error, which ends up in logs.
  Result<std::string> pasted = ReadCurvePublicKey(a.secret_key + " ");
  ASSERT_FALSE(pasted.ok());
  EXPECT_EQ(pasted.status().message().find(a.secret_key.substr(0, 8)), std::string::npos) << pasted.status().message();
  EXPECT_NE(pasted.status().message().find("41 characters"), std::string::npos) << pasted.status().message();
}

}  // namespace
}  // namespace signalbus
