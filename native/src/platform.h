// platform.h - everything the engine needs from the operating system, behind one interface.
// platform.cpp is the only file that calls POSIX or Windows APIs (files, memory mapping, CPU
// affinity); the rest of the engine is portable C++17.
//
// Paths: every path in the engine is a UTF-8 std::string (as the C ABI takes it). On Windows
// they are converted to UTF-16 here, at the file-system boundary (MultiByteToWideChar), so a
// folder named e.g. "modèle-测试" opens the same on every platform; invalid UTF-8 is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace jet::platform {

// A whole file mapped read-only into memory (POSIX mmap; Windows CreateFileW +
// CreateFileMappingW + MapViewOfFile). An empty file maps to data() == nullptr, size() == 0.
class MappedFile {
public:
    MappedFile() = default;
    // Throws jet::Error(JET_ERR_IO) naming the path and the system's reason when the file is
    // missing, not a regular file, or cannot be mapped.
    static MappedFile open(const std::string &path);
    MappedFile(MappedFile &&other) noexcept;
    MappedFile &operator=(MappedFile &&other) noexcept;
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;
    ~MappedFile();

    const uint8_t *data() const { return static_cast<const uint8_t *>(data_); }
    size_t size() const { return size_; }

private:
    void reset() noexcept;
    void *data_ = nullptr;
    size_t size_ = 0;
};

// True when `path` names an existing file-system entry (file or folder).
bool exists(const std::string &path);
// The whole content of a (small) file; throws jet::Error(JET_ERR_IO) naming the path.
std::string read_file(const std::string &path);
// std::fopen with a UTF-8 path (_wfopen on Windows); nullptr with errno set on failure.
std::FILE *open_file(const std::string &path, const char *mode);
// Removes a file; false when it could not (e.g. it did not exist). Never throws.
bool remove_file(const std::string &path);
// A std::filesystem::path for a UTF-8 path (on Windows its native wide form), for the
// std::filesystem calls (create_directories, is_directory, ...).
std::filesystem::path fs_path(const std::string &path);

// The CPU numbers in this process's affinity mask, ascending; empty when the OS cannot tell.
std::vector<int> affinity_cpus();
// Physical cores among `cpus` as the OS reports them (Windows:
// GetLogicalProcessorInformationEx); 0 when the OS has no such call (Linux: cpu/threads.cpp
// reads sysfs instead).
int physical_cores(const std::vector<int> &cpus);

}  // namespace jet::platform
