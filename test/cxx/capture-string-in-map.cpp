// expect: must be trivially copyable. Capture BY VALUE only numbers
#include <shmpool.hpp>
#include <string>
int main() {
    shmpool::pool pool(2);
    std::string name = "x";
    double in[4] = {}, out[4];
    pool.map(in, out, 4, [=](double v) { return v + double(name.size()); });
}
