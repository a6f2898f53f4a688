// test_util.cpp - writes a checkpoint folder whose tensors match a config.
#include "test_util.h"

#include "config.h"
#include "weights.h"

namespace jet_test {

void write_checkpoint(const TempDir &dir, const nlohmann::json &cfg) {
    dir.write("config.json", cfg.dump(2));
    const jet::Config c = jet::parse_config(cfg.dump());
    StBuilder b;
    for (const auto &e : jet::Weights::expected(c)) b.add_f32(e.name, e.shape);
    dir.write("model.safetensors", b.serialise());
}

}  // namespace jet_test
