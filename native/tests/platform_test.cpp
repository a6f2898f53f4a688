// platform_test.cpp - platform.cpp on the platform the suite runs on (Linux natively, Windows
// under wine in CI): memory mapping, file reading and writing through UTF-8 paths with a
// non-ASCII folder name, and a whole checkpoint written to and loaded from such a folder through
// the C ABI.
#include "platform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "error.h"
#include "test_util.h"

namespace {

using jet_test::ModelPtr;
using jet_test::SessionPtr;
using jet_test::TempDir;

// "modèle-测试": Latin-1 and CJK characters, in UTF-8.
const std::string kUnicodeName = "mod\xc3\xa8le-\xe6\xb5\x8b\xe8\xaf\x95";

std::string unicode_folder(const TempDir &dir) {
    const std::string folder = dir.file(kUnicodeName);
    std::filesystem::create_directories(jet_test::fs_path(folder));
    return folder;
}

TEST(Platform, MapsAFileInANonAsciiFolder) {
    TempDir dir;
    const std::string folder = unicode_folder(dir);
    const std::string bytes = std::string("safe\0tensors", 12) + std::string(5000, 'x');
    dir.write(kUnicodeName + "/w.bin", bytes);
    const auto m = jet::platform::MappedFile::open(folder + "/w.bin");
    ASSERT_EQ(m.size(), bytes.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(m.data()), m.size()), bytes);
    EXPECT_TRUE(jet::platform::exists(folder + "/w.bin"));
    EXPECT_TRUE(jet::platform::exists(folder));
    EXPECT_EQ(jet::platform::read_file(folder + "/w.bin"), bytes);
}

TEST(Platform, AMappedFileMovesAndAnEmptyFileMapsToNothing) {
    TempDir dir;
    dir.write("empty.bin", "");
    auto m = jet::platform::MappedFile::open(dir.file("empty.bin"));
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.data(), nullptr);
    dir.write("one.bin", "abc");
    auto a = jet::platform::MappedFile::open(dir.file("one.bin"));
    const uint8_t *p = a.data();
    jet::platform::MappedFile b = std::move(a);
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(b.size(), 3u);
    EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
    m = std::move(b);
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(m.data()), m.size()), "abc");
}

TEST(Platform, MissingFilesAndFoldersAreIoErrorsNamingThePath) {
    TempDir dir;
    const std::string folder = unicode_folder(dir);
    const std::string missing = folder + "/missing.safetensors";
    EXPECT_FALSE(jet::platform::exists(missing));
    for (const std::string &path : {missing, folder}) {
        try {
            jet::platform::MappedFile::open(path);
            ADD_FAILURE() << path << " mapped";
        } catch (const jet::Error &e) {
            EXPECT_EQ(e.status(), JET_ERR_IO);
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    try {
        jet::platform::read_file(missing);
        ADD_FAILURE();
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_IO);
        EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
}

TEST(Platform, WritesAndRemovesFilesInANonAsciiFolder) {
    TempDir dir;
    const std::string path = unicode_folder(dir) + "/out.txt";
    std::FILE *f = jet::platform::open_file(path, "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite("hello", 1, 5, f), 5u);
    ASSERT_EQ(std::fclose(f), 0);
    EXPECT_EQ(jet_test::read_bytes(path), "hello");
    EXPECT_TRUE(jet::platform::remove_file(path));
    EXPECT_FALSE(jet::platform::exists(path));
    EXPECT_FALSE(jet::platform::remove_file(path));
}

TEST(Platform, AffinityListsTheCpusThisProcessMayUse) {
    const std::vector<int> cpus = jet::platform::affinity_cpus();
    EXPECT_TRUE(std::is_sorted(cpus.begin(), cpus.end()));
    if (!cpus.empty()) {
        EXPECT_GE(cpus.front(), 0);
        const int physical = jet::platform::physical_cores(cpus);
        EXPECT_GE(physical, 0);  // 0: this OS has no such call (Linux reads sysfs)
        EXPECT_LE(physical, int(cpus.size()));
    }
}

#ifdef _WIN32
TEST(Platform, APathThatIsNotUtf8IsAClearError) {
    try {
        jet::platform::MappedFile::open("mod\xe8le/model.safetensors");  // Latin-1, not UTF-8
        ADD_FAILURE();
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_IO);
        EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
    }
}
#endif

std::vector<float> last_logits(jet_model *m, const std::vector<int32_t> &toks) {
    jet_session_params sp;
    jet_session_default_params(&sp);
    SessionPtr s;
    EXPECT_EQ(jet_session_create(m, &sp, &s.p), JET_OK) << jet_last_error();
    std::vector<float> out(64);
    EXPECT_EQ(jet_session_prefill(s.p, 0, toks.data(), int32_t(toks.size()), JET_LOGITS_LAST,
                                  out.data(), nullptr),
              JET_OK)
        << jet_last_error();
    return out;
}

// The C ABI takes UTF-8 paths: a checkpoint in "modèle-测试" is written and loaded, sharded
// (index JSON + several mapped files), and gives the logits of the same random model.
TEST(Platform, ACheckpointLoadsFromANonAsciiFolder) {
    TempDir dir;
    const std::string folder = dir.file(kUnicodeName);  // created by the writer
    const std::string cfg = jet_test::tiny_config_json().dump();
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 11, folder.c_str(), 20000), JET_OK)
        << jet_last_error();
    EXPECT_TRUE(jet::platform::exists(folder + "/model.safetensors.index.json"));
    jet_model_params mp;
    jet_model_default_params(&mp);
    ModelPtr loaded, random;
    ASSERT_EQ(jet_model_load(folder.c_str(), &mp, &loaded.p), JET_OK) << jet_last_error();
    ASSERT_EQ(jet_model_create_random(cfg.c_str(), 11, &mp, &random.p), JET_OK) << jet_last_error();
    const std::vector<int32_t> toks = {1, 5, 9, 3};
    EXPECT_EQ(last_logits(loaded.p, toks), last_logits(random.p, toks));

    // A missing file in such a folder: the error names the folder as given (UTF-8).
    const std::string empty = dir.file(kUnicodeName + "-empty");
    std::filesystem::create_directories(jet_test::fs_path(empty));
    ModelPtr none;
    EXPECT_EQ(jet_model_load(empty.c_str(), &mp, &none.p), JET_ERR_IO);
    EXPECT_NE(std::string(jet_last_error()).find(kUnicodeName + "-empty"), std::string::npos)
        << jet_last_error();
}

#ifdef _WIN32
// Windows keeps a mapped file from being overwritten: writing a checkpoint over the files of a
// loaded model is a clear JET_ERR_IO naming the file (Linux would truncate it under the model).
TEST(Platform, OverwritingALoadedCheckpointIsAnIoErrorOnWindows) {
    TempDir dir;
    const std::string folder = dir.file(kUnicodeName);
    const std::string cfg = jet_test::tiny_config_json().dump();
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 3, folder.c_str(), 0), JET_OK) << jet_last_error();
    ModelPtr loaded;
    ASSERT_EQ(jet_model_load(folder.c_str(), nullptr, &loaded.p), JET_OK) << jet_last_error();
    EXPECT_EQ(jet_checkpoint_write_random(cfg.c_str(), 4, folder.c_str(), 0), JET_ERR_IO);
    EXPECT_NE(std::string(jet_last_error()).find(kUnicodeName + "/model.safetensors"), std::string::npos)
        << jet_last_error();
    jet_model_free(loaded.p);
    loaded.p = nullptr;
    EXPECT_EQ(jet_checkpoint_write_random(cfg.c_str(), 4, folder.c_str(), 0), JET_OK) << jet_last_error();
}
#endif

}  // namespace
