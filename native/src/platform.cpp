// platform.cpp - see platform.h. The one file of the engine that calls the operating system's
// own APIs: POSIX below, Windows (Win32, UTF-16 paths) in the _WIN32 branch.
#include "platform.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "error.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace jet::platform {

#ifdef _WIN32

namespace {

// UTF-8 -> UTF-16 for the wide Windows APIs. Throws JET_ERR_IO for invalid UTF-8 (a path that
// cannot name any file), never substitutes characters.
std::wstring widen(const std::string &utf8) {
    if (utf8.empty()) return std::wstring();
    if (utf8.size() > size_t(INT32_MAX)) throw Error(JET_ERR_IO, "path too long");
    const int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(),
                                      int(utf8.size()), nullptr, 0);
    if (n <= 0) throw Error(JET_ERR_IO, utf8 + ": the path is not valid UTF-8");
    std::wstring out(size_t(n), L'\0');
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), int(utf8.size()), out.data(), n);
    return out;
}

// FormatMessageW of a Win32 error code, as UTF-8 without the trailing line break.
std::string win32_message(DWORD code) {
    wchar_t *buf = nullptr;
    const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                       FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, code, 0, reinterpret_cast<wchar_t *>(&buf), 0, nullptr);
    std::string out;
    if (n > 0 && buf) {
        const int len = WideCharToMultiByte(CP_UTF8, 0, buf, int(n), nullptr, 0, nullptr, nullptr);
        if (len > 0) {
            out.resize(size_t(len));
            WideCharToMultiByte(CP_UTF8, 0, buf, int(n), out.data(), len, nullptr, nullptr);
        }
    }
    if (buf) LocalFree(buf);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ' ||
                            out.back() == '.'))
        out.pop_back();
    return out.empty() ? "Windows error " + std::to_string(code) : out;
}

[[noreturn]] void io_error(const std::string &path, const std::string &what, DWORD code) {
    throw Error(JET_ERR_IO, path + ": " + what + " (" + win32_message(code) + ")");
}

}  // namespace

MappedFile MappedFile::open(const std::string &path) {
    const std::wstring wpath = widen(path);
    HANDLE file = CreateFileW(wpath.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE,
                              nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) io_error(path, "cannot open", GetLastError());
    BY_HANDLE_FILE_INFORMATION info{};
    if (!GetFileInformationByHandle(file, &info) ||
        (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
        GetFileType(file) != FILE_TYPE_DISK) {
        CloseHandle(file);
        throw Error(JET_ERR_IO, path + ": not a regular file");
    }
    const uint64_t size = (uint64_t(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
    MappedFile m;
    if (size > 0) {
        // The mapping object keeps the file open; both handles can be closed once mapped.
        HANDLE mapping = CreateFileMappingW(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
        if (!mapping) {
            const DWORD err = GetLastError();
            CloseHandle(file);
            io_error(path, "cannot map", err);
        }
        void *view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
        const DWORD err = GetLastError();
        CloseHandle(mapping);
        if (!view) {
            CloseHandle(file);
            io_error(path, "cannot map", err);
        }
        m.data_ = view;
        m.size_ = size_t(size);
    }
    CloseHandle(file);
    return m;
}

void MappedFile::reset() noexcept {
    if (data_) UnmapViewOfFile(data_);
    data_ = nullptr;
    size_ = 0;
}

bool exists(const std::string &path) {
    return GetFileAttributesW(widen(path).c_str()) != INVALID_FILE_ATTRIBUTES;
}

std::FILE *open_file(const std::string &path, const char *mode) {
    return _wfopen(widen(path).c_str(), widen(mode).c_str());
}

bool remove_file(const std::string &path) {
    try {
        return DeleteFileW(widen(path).c_str()) != 0;
    } catch (const Error &) {
        return false;  // invalid UTF-8 names no file
    }
}

std::filesystem::path fs_path(const std::string &path) { return std::filesystem::path(widen(path)); }

std::vector<int> affinity_cpus() {
    // The process's mask within its processor group (a process starts in one group of at most
    // 64 logical processors).
    DWORD_PTR process_mask = 0, system_mask = 0;
    std::vector<int> cpus;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask)) {
        for (int i = 0; i < int(sizeof(DWORD_PTR) * 8); ++i)
            if (process_mask & (DWORD_PTR(1) << i)) cpus.push_back(i);
    }
    return cpus;
}

int physical_cores(const std::vector<int> &cpus) {
    DWORD bytes = 0;
    GetLogicalProcessorInformationEx(RelationProcessorCore, nullptr, &bytes);
    if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || bytes == 0) return 0;
    std::vector<uint8_t> buf(bytes);
    auto *first = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX *>(buf.data());
    if (!GetLogicalProcessorInformationEx(RelationProcessorCore, first, &bytes)) return 0;
    DWORD_PTR wanted = 0;
    for (int c : cpus)
        if (c >= 0 && c < int(sizeof(DWORD_PTR) * 8)) wanted |= DWORD_PTR(1) << c;
    USHORT group = 0;
    GROUP_AFFINITY current{};
    if (GetThreadGroupAffinity(GetCurrentThread(), &current)) group = current.Group;
    int cores = 0;
    for (DWORD off = 0; off < bytes;) {
        const auto *info = reinterpret_cast<const SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX *>(buf.data() + off);
        if (info->Size == 0) break;
        if (info->Relationship == RelationProcessorCore) {
            for (WORD g = 0; g < info->Processor.GroupCount; ++g) {
                const GROUP_AFFINITY &a = info->Processor.GroupMask[g];
                if (a.Group == group && (a.Mask & wanted)) {
                    ++cores;
                    break;
                }
            }
        }
        off += info->Size;
    }
    return cores;
}

#else  // POSIX

MappedFile MappedFile::open(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(JET_ERR_IO, path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(JET_ERR_IO, path + ": not a regular file");
    }
    MappedFile m;
    const size_t size = static_cast<size_t>(st.st_size);
    if (size > 0) {
        void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(JET_ERR_IO, path + ": mmap failed (" + std::strerror(err) + ")");
        }
        m.data_ = map;
        m.size_ = size;
    }
    ::close(fd);
    return m;
}

void MappedFile::reset() noexcept {
    if (data_) munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

bool exists(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::FILE *open_file(const std::string &path, const char *mode) { return std::fopen(path.c_str(), mode); }

bool remove_file(const std::string &path) { return ::unlink(path.c_str()) == 0; }

std::filesystem::path fs_path(const std::string &path) { return std::filesystem::path(path); }

std::vector<int> affinity_cpus() {
    std::vector<int> cpus;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
#endif
    return cpus;
}

int physical_cores(const std::vector<int> &) { return 0; }

#endif

MappedFile::MappedFile(MappedFile &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
    if (this != &other) {
        reset();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() { reset(); }

std::string read_file(const std::string &path) {
    std::ifstream in(fs_path(path), std::ios::binary);
    if (!in) throw Error(JET_ERR_IO, path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error(JET_ERR_IO, path + ": read failed");
    return ss.str();
}

}  // namespace jet::platform
