#include "debug_file_inflater.h"

#include <elf.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "elf_headers.h"

namespace dprof::analyzer {
namespace {

// ELFCOMPRESS_ZSTD (binutils 2.40, elfutils 0.189) is newer than this C library's elf.h.
constexpr uint32_t kCompressZstd = 2;
// No debug file comes near this; a crafted header asking for more is not one.
constexpr uint64_t kLargestImage = uint64_t{4} << 30;
constexpr unsigned kMostThreads = 4;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "reads ELF headers in host order");

class Mapping {
 public:
  Mapping(size_t length, int protection, int flags, int fd) : length_(length) {
    data_ = mmap(nullptr, length, protection, flags, fd, 0);
  }
  ~Mapping() {
    if (data_ != MAP_FAILED) munmap(data_, length_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  bool ok() const { return data_ != MAP_FAILED; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(data_); }

 private:
  void* data_;
  size_t length_;
};

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// One compressed section: where its stream is, and where its inflated bytes go in the copy.
struct Inflation {
  const uint8_t* input = nullptr;
  size_t input_size = 0;
  uint32_t type = 0;
  uint64_t output_offset = 0;
  size_t output_size = 0;
  uint8_t* output = nullptr;
  bool inflated = false;
};

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

bool inflate(libdeflate_decompressor* decompressor, const Inflation& job) {
  if (job.type == ELFCOMPRESS_ZLIB) {
    size_t produced = 0;
    return libdeflate_zlib_decompress(decompressor, job.input, job.input_size, job.output,
                                      job.output_size, &produced) == LIBDEFLATE_SUCCESS &&
           produced == job.output_size;
  }
  size_t produced = ZSTD_decompress(job.output, job.output_size, job.input, job.input_size);
  return ZSTD_isError(produced) == 0 && produced == job.output_size;
}

void inflate_share(const std::vector<Inflation*>& share) noexcept {
  libdeflate_decompressor* decompressor = libdeflate_alloc_decompressor();
  if (decompressor == nullptr) return;
  for (Inflation* job : share) job->inflated = inflate(decompressor, *job);
  libdeflate_free_decompressor(decompressor);
}

// Inflates every section, the largest first, each on the least loaded of a few threads (this one
// among them). True when every one came out at its stated size.
bool inflate_all(std::vector<Inflation>& jobs) {
  unsigned workers = std::clamp(std::thread::hardware_concurrency(), 1u, kMostThreads);
  workers = static_cast<unsigned>(std::min<size_t>(workers, jobs.size()));
  std::vector<Inflation*> largest_first;
  largest_first.reserve(jobs.size());
  for (Inflation& job : jobs) largest_first.push_back(&job);
  std::sort(largest_first.begin(), largest_first.end(),
            [](const Inflation* a, const Inflation* b) { return a->input_size > b->input_size; });
  std::vector<std::vector<Inflation*>> shares(workers);
  std::vector<size_t> load(workers, 0);
  for (Inflation* job : largest_first) {
    size_t lightest =
        static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    shares[lightest].push_back(job);
    load[lightest] += job->input_size;
  }
  std::vector<std::thread> threads;
  size_t started = 1;  // share 0 is this thread's
  try {
    for (; started < shares.size(); ++started) threads.emplace_back(inflate_share, shares[started]);
  } catch (const std::system_error&) {
    // No more threads: the shares not started are inflated here.
  }
  inflate_share(shares[0]);
  for (size_t share = started; share < shares.size(); ++share) inflate_share(shares[share]);
  for (std::thread& thread : threads) thread.join();
  return std::all_of(jobs.begin(), jobs.end(), [](const Inflation& job) { return job.inflated; });
}

}  // namespace

int inflated_debug_file(int fd) {
  // The headers first: a file with nothing compressed is left alone without reading the rest.
  std::optional<ElfHeaders> elf = read_elf_headers(fd);
  if (!elf || elf->file_size > kLargestImage) return -1;
  uint64_t file_size = elf->file_size;
  Elf64_Ehdr& header = elf->header;
  std::vector<Elf64_Shdr>& sections = elf->sections;
  if (std::none_of(sections.begin(), sections.end(), [](const Elf64_Shdr& section) {
        return (section.sh_flags & SHF_COMPRESSED) != 0 && section.sh_type != SHT_NOBITS;
      })) {
    return -1;
  }
  // Populated up front: one call instead of a page fault per page (a quarter of the time).
  Mapping file(file_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd);
  if (!file.ok()) return -1;
  const uint8_t* bytes = file.bytes();

  // The copy: the file as it is, then each inflated section, then the new section headers.
  uint64_t end = align_up(file_size, 16);
  std::vector<Inflation> jobs;
  for (Elf64_Shdr& section : sections) {
    if ((section.sh_flags & SHF_COMPRESSED) == 0 || section.sh_type == SHT_NOBITS) continue;
    if (section.sh_offset > file_size || section.sh_size > file_size - section.sh_offset ||
        section.sh_size < sizeof(Elf64_Chdr)) {
      return -1;
    }
    Elf64_Chdr compression;
    std::memcpy(&compression, bytes + section.sh_offset, sizeof compression);
    if (compression.ch_type != ELFCOMPRESS_ZLIB && compression.ch_type != kCompressZstd) return -1;
    uint64_t alignment = compression.ch_addralign == 0 ? 1 : compression.ch_addralign;
    if ((alignment & (alignment - 1)) != 0 || alignment > 4096) return -1;
    end = align_up(end, alignment);
    if (compression.ch_size > kLargestImage - end) return -1;
    Inflation job;
    job.input = bytes + section.sh_offset + sizeof compression;
    job.input_size = section.sh_size - sizeof compression;
    job.type = compression.ch_type;
    job.output_offset = end;
    job.output_size = compression.ch_size;
    jobs.push_back(job);
    section.sh_offset = end;
    section.sh_size = compression.ch_size;
    section.sh_flags &= ~static_cast<uint64_t>(SHF_COMPRESSED);
    section.sh_addralign = alignment;
    end += compression.ch_size;
  }
  if (jobs.empty()) return -1;
  uint64_t section_table = align_up(end, 8);
  end = section_table + sections.size() * sizeof(Elf64_Shdr);
  if (end > kLargestImage) return -1;

  Descriptor image(memfd_create("damon-prof-debuginfo", MFD_CLOEXEC));
  if (image.get() < 0 || ftruncate(image.get(), static_cast<off_t>(end)) != 0) return -1;
  Mapping copy(end, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, image.get());
  if (!copy.ok()) return -1;
  std::memcpy(copy.bytes(), bytes, file_size);
  for (Inflation& job : jobs) job.output = copy.bytes() + job.output_offset;
  if (!inflate_all(jobs)) return -1;
  header.e_shoff = section_table;
  std::memcpy(copy.bytes(), &header, sizeof header);
  std::memcpy(copy.bytes() + section_table, sections.data(), sections.size() * sizeof(Elf64_Shdr));
  return image.release();
}

}  // namespace dprof::analyzer
